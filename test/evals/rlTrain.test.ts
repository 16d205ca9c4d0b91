// The RL driver on a toy: a tiny LM learns to avoid one token when the reward is "the completion
// never contains token X"; with zero advantages (constant reward) and no KL pull, nothing moves.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initLM, lmVariables, disposeParams, type LMConfig } from "../../ml/lm.ts";
import { generateIds } from "../../ml/generate.ts";
import { trainRL } from "../../ml/rl.ts";

await tf.setBackend("cpu");

const CFG: LMConfig = { vocabSize: 8, contextLength: 12, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 2, dropout: 0 };
const X = 3; // the token to avoid
const BOS = 0;
const PROMPTS = [[BOS], [BOS, 1], [BOS, 2], [BOS, 5, 6], [BOS, 7]];
const avoids = (c: number[]) => (c.includes(X) ? 0 : 1);

/** Fraction of 400 fresh samples (temperature 1, 6 tokens) that avoid X. */
function avoidRate(params: ReturnType<typeof initLM>, seed: number): number {
  const prompts = Array.from({ length: 400 }, (_, i) => PROMPTS[i % PROMPTS.length]);
  const comps = generateIds(params, CFG, prompts, { maxNewTokens: 6, temperature: 1, seed });
  return comps.reduce((s, c) => s + avoids(c), 0) / comps.length;
}

test("RLOO raises the reward: a tiny LM learns to avoid a token", async (t) => {
  const policy = initLM(CFG, 1);
  const reference = initLM(CFG, 1);
  const before = avoidRate(policy, 77); // ≈ (7/8)^6 ≈ 0.45 for a near-uniform init
  const n0 = tf.memory().numTensors;
  const hist = await trainRL({
    policy, reference, config: CFG, prompts: PROMPTS, reward: (cs) => cs.map(avoids),
    steps: 40, k: 4, promptsPerStep: 4, maxNewTokens: 6, klCoef: 0.01, optimizer: { lr: 1e-2 }, seed: 5,
  });
  assert.equal(tf.memory().numTensors, n0, "no tensors leak across RL steps");
  const after = avoidRate(policy, 77);
  const first = hist.slice(0, 8).reduce((s, h) => s + h.reward, 0) / 8;
  const last = hist.slice(-8).reduce((s, h) => s + h.reward, 0) / 8;
  t.diagnostic(`avoid rate ${before.toFixed(3)} → ${after.toFixed(3)}; step reward ${first.toFixed(3)} → ${last.toFixed(3)}`);
  assert.ok(before > 0.3 && before < 0.6, `initial avoid rate ${before}`);
  assert.ok(after >= before + 0.3, `avoid rate ${before} → ${after}`);
  assert.ok(last > first + 0.2, `training reward ${first} → ${last}`);
  disposeParams(lmVariables(policy));
  disposeParams(lmVariables(reference));
});

test("constant reward ⇒ zero leave-one-out advantages ⇒ with β = 0 the policy does not move", async () => {
  const policy = initLM(CFG, 2);
  const reference = initLM(CFG, 2);
  const w0 = lmVariables(policy).wte.dataSync().slice();
  const hist = await trainRL({
    policy, reference, config: CFG, prompts: PROMPTS, reward: (cs) => cs.map(() => 1),
    steps: 3, k: 3, promptsPerStep: 2, maxNewTokens: 4, klCoef: 0, optimizer: { lr: 1e-2, weightDecay: 0 }, seed: 1,
  });
  assert.deepEqual(lmVariables(policy).wte.dataSync(), w0);
  hist.forEach((h) => assert.equal(h.loss, 0));
  await assert.rejects(
    trainRL({ policy, reference, config: CFG, prompts: PROMPTS, reward: (cs) => cs.map(() => 1), steps: 1, k: 1 }),
    /K ≥ 2/,
  );
  await assert.rejects(
    trainRL({ policy, reference, config: CFG, prompts: PROMPTS, reward: () => [1], steps: 1, k: 2, maxNewTokens: 2 }),
    /returned 1 rewards for 10 completions/,
  );
  disposeParams(lmVariables(policy));
  disposeParams(lmVariables(reference));
});
