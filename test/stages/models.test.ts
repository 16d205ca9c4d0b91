// The training glue of stages/models.ts on a tiny model: the regularised fine-tune moves the model
// towards q (its KL to q falls faster than plain fine-tuning's), λ = 0 is plain fine-tuning exactly,
// and a model directory round-trips.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { lmForward, lmVariables } from "../../ml/lm.ts";
import { guidedLogProbs } from "../../ml/nado/losses.ts";
import { initNado, nadoForward, nadoVariables } from "../../ml/nado/model.ts";
import { makeRng } from "../../ml/prng.ts";
import { createModel, loadModel, loadNado, saveModel, saveNado, trainLM, trainTokenizerInto, type Example } from "../../stages/models.ts";

const dir = mkdtempSync(join(tmpdir(), "acft-models-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const texts = ["the cat sat on the mat", "a dog ran in the park", "you are a fool and a liar", "the river flows to the sea"];
const examples: Example[] = texts.map((text, i) => ({ text, domain: i === 2 ? "toxic" : "general" }));
const arch = { dModel: 16, nLayers: 1, nHeads: 2, contextLength: 24, dropout: 0 };
const training = { steps: 6, batchSize: 4, lr: 1e-2, warmup: 0, weightDecay: 0, clipNorm: 1 };
const snapshotOf = (vars: Record<string, tf.Variable>) => Object.values(vars).flatMap((v) => Array.from(v.dataSync()));

test("regularised fine-tuning: λ = 0 equals plain; λ > 0 pulls p_θ towards q (KL(q ‖ p_θ) lower than plain)", async () => {
  trainTokenizerInto(join(dir, "tok"), texts, 300, () => {});
  const base = createModel(join(dir, "tok"), arch, 1);
  await saveModel(base, join(dir, "base"));
  const cfg = { body: { ...base.config, nLayers: 1 } };
  const nado = initNado(cfg, 2, 0);
  const rng = makeRng(3);
  for (const v of Object.values(nadoVariables(nado))) tf.tidy(() => v.assign(tf.add(v, tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal()), v.shape))));
  await saveNado(join(dir, "nado"), { params: nado, cfg });
  const reg = (lambda: number) => ({ snapshot: join(dir, "base"), nado: join(dir, "nado"), lambda, alpha: 1 });
  const run = async (lambda?: number) => {
    const m = await loadModel(join(dir, "base"));
    await trainLM(m, examples.map((e) => ({ ...e, regularise: true })), training, 7, () => {}, lambda === undefined ? undefined : reg(lambda));
    return m;
  };
  const plain = await run(), zero = await run(0), ours = await run(3);
  assert.deepEqual(snapshotOf(lmVariables(zero.params)), snapshotOf(lmVariables(plain.params)), "λ = 0 is plain fine-tuning");
  assert.notDeepEqual(snapshotOf(lmVariables(ours.params)), snapshotOf(lmVariables(plain.params)));
  // KL(q ‖ p_θ) over the training positions, q from the frozen base and φ.
  const ids = tf.tensor2d([base.tokenizer.encode(texts[2], { bos: true }).slice(0, 12)], undefined, "int32");
  const snap = await loadModel(join(dir, "base"));
  const kl = (m: typeof plain) => tf.tidy(() => {
    const lq = guidedLogProbs(lmForward(snap.params, snap.config, ids).logits, nadoForward(nado, cfg, ids), 1);
    const lp = tf.logSoftmax(lmForward(m.params, m.config, ids).logits);
    return tf.sum(tf.mul(tf.exp(lq), tf.sub(lq, lp))).dataSync()[0];
  });
  assert.ok(kl(ours) < kl(plain), `KL to q: regularised ${kl(ours).toFixed(4)} < plain ${kl(plain).toFixed(4)}`);
  // The directory round-trips (checkpoint + tokenizer).
  await saveModel(ours, join(dir, "ours"));
  const back = await loadModel(join(dir, "ours"));
  assert.deepEqual(snapshotOf(lmVariables(back.params)), snapshotOf(lmVariables(ours.params)));
  assert.deepEqual(back.tokenizer.encode(texts[0]), ours.tokenizer.encode(texts[0]));
  for (const m of [base, plain, zero, ours, snap, back]) m.dispose();
  ids.dispose();
  // The NADO directory round-trips too.
  const back2 = await loadNado(join(dir, "nado"));
  const [z1, z2] = tf.tidy(() => [nadoForward(nado, cfg, tf.tensor2d([[1, 2, 3]], undefined, "int32")).dataSync(), nadoForward(back2.params, back2.cfg, tf.tensor2d([[1, 2, 3]], undefined, "int32")).dataSync()]);
  assert.deepEqual(Array.from(z1), Array.from(z2));
  back2.dispose();
  for (const v of Object.values(nadoVariables(nado))) v.dispose();
});
