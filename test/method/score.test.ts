// ml/nado/score.ts: batched token-level log q. At NADO initialisation q = p exactly; in general it
// equals log softmax(log p + α log σ(z)) computed per row in float64 from the two models' outputs,
// for rows of different lengths (right padding must not leak into earlier positions).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { PRESETS, lmForward, type LMConfig } from "../../ml/lm.ts";
import { initNado, nadoForward, nadoVariables } from "../../ml/nado/model.ts";
import { guidedTokenLogProbs } from "../../ml/nado/score.ts";
import { makeRng } from "../../ml/prng.ts";
import { scoreContinuations } from "../../ml/score.ts";
import { perturbedLM, randomIds } from "../ml/helpers.ts";

const c: LMConfig = { ...PRESETS.tiny };
const cfg = { body: c };

test("at initialisation (zero head, one bias) q = p", () => {
  const base = { params: perturbedLM(c, 1), config: c };
  const nado = initNado(cfg, 2, 0.7);
  const seqs = randomIds(3, 9, c.vocabSize, 3);
  const q = guidedTokenLogProbs(base, nado, cfg, 1, seqs);
  const p = scoreContinuations(base.params, c, seqs.map((s) => ({ context: [s[0]], continuation: s.slice(1) })));
  for (let i = 0; i < seqs.length; i++) for (let t = 0; t < 8; t++) assert.ok(Math.abs(q[i].lp[t] - p[i].tokenLogprobs[t]) < 1e-4, `row ${i} pos ${t}`);
  for (const v of Object.values(nadoVariables(nado))) v.dispose();
});

test("equals log softmax(log p + α log σ(z)) per row in float64, with padding", () => {
  const base = { params: perturbedLM(c, 4), config: c };
  const nado = initNado(cfg, 5, -0.3);
  const rng = makeRng(6);
  for (const v of Object.values(nadoVariables(nado))) tf.tidy(() => v.assign(tf.add(v, tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal() * 0.3), v.shape))));
  const alpha = 1.7;
  const seqs = [randomIds(1, 7, c.vocabSize, 7)[0], randomIds(1, 4, c.vocabSize, 8)[0]];
  const before = tf.memory().numTensors;
  const got = guidedTokenLogProbs(base, nado, cfg, alpha, seqs);
  assert.equal(tf.memory().numTensors, before, "no tensor leaked");
  seqs.forEach((s, i) => {
    const ids = tf.tensor2d([s.slice(0, -1)], undefined, "int32");
    const [lp, z] = tf.tidy(() => [tf.logSoftmax(lmForward(base.params, c, ids).logits).arraySync() as number[][][], nadoForward(nado, cfg, ids).arraySync() as number[][][]]);
    ids.dispose();
    for (let t = 0; t < s.length - 1; t++) {
      const u = lp[0][t].map((l, v) => l - alpha * Math.log1p(Math.exp(-z[0][t][v])));
      const m = Math.max(...u);
      const lse = m + Math.log(u.reduce((a, x) => a + Math.exp(x - m), 0));
      assert.ok(Math.abs(got[i].lp[t] - (u[s[t + 1]] - lse)) < 1e-4, `row ${i} pos ${t}`);
      assert.equal(got[i].greedy[t], u.indexOf(Math.max(...u)) === s[t + 1]);
    }
  });
});
