// Training stages resume from ctx.checkpointDir (trainLM's, trainNado's and trainRL's `checkpoint`): a training
// interrupted after its step-2 save and resumed from it ends with parameters bit-identical to an
// uninterrupted run's. (The engine keeps that directory across failed attempts of the same key; the
// Slurm tests check the resubmission.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { trainCheckpointHooks } from "../../ml/checkpoint.ts";
import { initLM, lmVariables } from "../../ml/lm.ts";
import { nadoVariables } from "../../ml/nado/model.ts";
import { trainNado } from "../../ml/nado/train.ts";
import { trainRL } from "../../ml/rl.ts";
import { createModel, loadModel, saveModel, trainLM, trainTokenizerInto, type Example } from "../../stages/models.ts";

const dir = mkdtempSync(join(tmpdir(), "acft-resume-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const texts = ["the cat sat on the mat", "a dog ran in the park", "you are a fool and a liar", "the river flows to the sea"];
const examples: Example[] = texts.map((text, i) => ({ text, domain: i === 2 ? "toxic" : "general" }));
const arch = { dModel: 16, nLayers: 1, nHeads: 2, contextLength: 24, dropout: 0.1 };
const training = { steps: 6, batchSize: 2, lr: 1e-2, warmup: 2, weightDecay: 0.01, clipNorm: 1 };

test("trainLM with a checkpoint: interrupted after step 4, resumed from the step-2 save → bit-identical parameters", async () => {
  trainTokenizerInto(join(dir, "tok"), texts, 300, () => {});
  const base = createModel(join(dir, "tok"), arch, 1);
  await saveModel(base, join(dir, "base"));
  base.dispose();
  const bits = (m: Awaited<ReturnType<typeof loadModel>>) =>
    Object.entries(lmVariables(m.params)).map(([k, v]) => [k, Buffer.from(v.dataSync().buffer).toString("hex")]);

  const whole = await loadModel(join(dir, "base"));
  await trainLM(whole, examples, training, 7, () => {});
  const reference = bits(whole);
  whole.dispose();

  const ckpt = join(dir, "ckpt");
  const first = await loadModel(join(dir, "base"));
  await assert.rejects(trainLM(first, examples, training, 7, (p) => {
    if (p.done === 4) throw new Error("interrupted"); // before step 4's save: the last save is step 2's
  }, undefined, { dir: ckpt, every: 2 }), /interrupted/);
  first.dispose();
  assert.equal(JSON.parse(readFileSync(join(ckpt, "checkpoint.json"), "utf8")).meta.step, 2);

  const resumed = await loadModel(join(dir, "base"));
  const seen: number[] = [];
  await trainLM(resumed, examples, training, 7, (p) => void seen.push(p.done), undefined, { dir: ckpt, every: 2 });
  assert.deepEqual(seen, [3, 4, 5, 6], "it resumed after step 2");
  assert.deepEqual(bits(resumed), reference);
  resumed.dispose();
  assert.ok(existsSync(ckpt));
});

/** Interrupt `run` after step 4 (the last save is step 2's), resume, and compare with an uninterrupted run. */
const interruptedEqualsWhole = async (name: string, run: (hooks: ReturnType<typeof trainCheckpointHooks> | undefined, onDone: (done: number) => void) => Promise<Record<string, tf.Variable>>) => {
  const hex = (vars: Record<string, tf.Variable>) => Object.entries(vars).map(([k, v]) => [k, Buffer.from(v.dataSync().buffer).toString("hex")]);
  const reference = hex(await run(undefined, () => {}));
  const ckpt = join(dir, `ckpt-${name}`);
  await assert.rejects(run(trainCheckpointHooks(ckpt, 2, {}), (done) => {
    if (done === 4) throw new Error("interrupted");
  }), /interrupted/);
  const seen: number[] = [];
  const resumed = hex(await run(trainCheckpointHooks(ckpt, 2, {}), (done) => void seen.push(done)));
  assert.deepEqual(seen, [3, 4, 5, 6], `${name} resumed after step 2`);
  assert.deepEqual(resumed, reference, `${name}: resumed = uninterrupted, bit for bit`);
};

test("trainNado and trainRL with checkpoints: interrupted after step 4, resumed from step 2 → bit-identical parameters", async () => {
  const c = { vocabSize: 40, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 4, dropout: 0.1 };
  const base = initLM(c, 3);
  const samples = Array.from({ length: 12 }, (_, i) => ({ prompt: [1, 2 + (i % 5)], continuation: [3 + (i % 7), 4, 5 + (i % 3)], label: i % 3 === 0 ? 1 : 0, logp: -3 - i / 10, logq: -3 }));
  await interruptedEqualsWhole("nado", async (checkpoint, onDone) =>
    nadoVariables((await trainNado({ base, baseCfg: c, nadoCfg: { body: { ...c, nLayers: 1 } }, samples, steps: 6, batchSize: 4, lr: 1e-2, seed: 5, checkpoint, onProgress: (p) => onDone(p.done) })).nado));
  await interruptedEqualsWhole("rl", async (checkpoint, onDone) => {
    const policy = initLM(c, 4);
    await trainRL({
      policy, reference: base, config: c, prompts: [[1, 2], [1, 3], [1, 4]], reward: (comps) => comps.map((x) => (x.includes(7) ? 0 : 1)),
      steps: 6, k: 2, promptsPerStep: 2, maxNewTokens: 4, optimizer: { lr: 1e-2, weightDecay: 0 }, seed: 9, checkpoint, onProgress: (p) => onDone(p.done),
    });
    return lmVariables(policy);
  });
});
