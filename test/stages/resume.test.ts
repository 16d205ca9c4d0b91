// Training stages resume from ctx.checkpointDir (stages/models.ts trainLM's `checkpoint`): a training
// interrupted after its step-2 save and resumed from it ends with parameters bit-identical to an
// uninterrupted run's. (The engine keeps that directory across failed attempts of the same key; the
// Slurm tests check the resubmission.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lmVariables } from "../../ml/lm.ts";
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
