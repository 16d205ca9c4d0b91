// ml/finetune.ts on the ML core's transformer: the batch loss the fine-tuning driver differentiates
// (finetuneBatchLoss → regularisedBatchLoss) against a float64 evaluation of docs/method.md §3 on drawBatch's
// batches (prompts, padding, D_reg rows), its gradient against the chain rule through the float64
// dL/dlogits, no gradient through q even when θ̄ is θ, and the driver differentiating exactly that loss.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { drawBatch, type EncodedExample } from "../../ml/batches.ts";
import { finetuneBatchLoss, finetuneLM, type RegulariserGuide } from "../../ml/finetune.ts";
import { PRESETS, lmForward, lmVariables, type LMConfig, type LMParams } from "../../ml/lm.ts";
import { initNado, nadoForward, nadoVariables } from "../../ml/nado/model.ts";
import { makeRng } from "../../ml/prng.ts";
import { perturbedLM, relErr } from "../ml/helpers.ts";

await initBackend("wasm");
const c: LMConfig = { ...PRESETS.tiny };
const PAD = 0;
const rng = makeRng(21);
const row = (n: number) => Array.from({ length: n }, () => 1 + Math.floor(rng.next() * (c.vocabSize - 2)));
// Rows of different lengths (padding), one longer than the context (a window), prompted ones
// (targets after the prompt only) and D_reg on some rows only (the adaptive case).
const data: EncodedExample[] = [
  { ids: [62, ...row(6)], targetFrom: 1, regularise: true },
  { ids: [62, ...row(11)], targetFrom: 1, regularise: false },
  { ids: [62, ...row(3), ...row(5)], targetFrom: 4, regularise: true },
  { ids: [62, ...row(c.contextLength + 6)], targetFrom: 1, regularise: true },
  { ids: [62, ...row(2), ...row(4)], targetFrom: 3, regularise: false },
];

const nadoCfg = { body: c };
const perturbedNado = (seed: number) => {
  const nado = initNado(nadoCfg, seed, -0.2);
  const r = makeRng(seed + 1);
  for (const v of Object.values(nadoVariables(nado))) tf.tidy(() => v.assign(tf.add(v, tf.tensor(Float32Array.from({ length: v.size }, () => r.normal() * 0.4), v.shape))));
  return nado;
};
const model = perturbedLM(c, 1);
const snapshot = perturbedLM(c, 2);
const nado = perturbedNado(3);
const guide = (snap: LMParams, alpha: number): RegulariserGuide => ({ snapshot: snap, snapshotCfg: c, nado, nadoCfg, alpha });

const logSoftmax64 = (x: ArrayLike<number>): number[] => {
  const a = Array.from(x);
  const m = Math.max(...a);
  const lse = m + Math.log(a.reduce((s, v) => s + Math.exp(v - m), 0));
  return a.map((v) => v - lse);
};
const logSig = (z: number) => (z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z)));

/**
 * docs/method.md §3 in float64 from the three models' outputs on batch b: the loss
 * [Σ mask·CE + λ Σ reg·KL(q ‖ p_θ)] / Σ mask with q ∝ p_θ̄ · σ(z)^α, and dL/dlogits (B·T, V).
 */
const reference = (b: ReturnType<typeof drawBatch>, lambda: number, alpha: number) => {
  const { B, T } = b;
  const V = c.vocabSize;
  const inputs = Array.from({ length: B }, (_, r) => Array.from(b.ids.slice(r * (T + 1), r * (T + 1) + T)));
  const [lg, ls, z] = tf.tidy(() => {
    const x = tf.tensor2d(inputs, [B, T], "int32");
    return [lmForward(model, c, x).logits.dataSync(), lmForward(snapshot, c, x).logits.dataSync(), nadoForward(nado, nadoCfg, x).dataSync()];
  });
  const nTok = b.mask.reduce((s, m) => s + m, 0);
  let ce = 0, kl = 0;
  const dLogits = new Float64Array(B * T * V);
  for (let r = 0; r < B; r++)
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      const lp = logSoftmax64(lg.subarray(i * V, (i + 1) * V));
      const lq = logSoftmax64(logSoftmax64(ls.subarray(i * V, (i + 1) * V)).map((l, v) => l + alpha * logSig(z[i * V + v])));
      const target = b.ids[r * (T + 1) + t + 1];
      ce -= b.mask[i] * lp[target];
      for (let v = 0; v < V; v++) {
        const q = Math.exp(lq[v]);
        kl += b.reg[i] * q * (lq[v] - lp[v]);
        dLogits[i * V + v] = (b.mask[i] * (Math.exp(lp[v]) - (v === target ? 1 : 0)) + lambda * b.reg[i] * (Math.exp(lp[v]) - q)) / nTok;
      }
    }
  return { loss: (ce + lambda * kl) / nTok, dLogits, inputs };
};

const batches = [0, 1, 2].map((step) => drawBatch(data, 6, c.contextLength, PAD, 5, step));

test("the batch loss = [Σ mask·CE + λ Σ reg·KL(q ‖ p_θ)] / #tokens in float64 (λ 0, 0.8, 3; α 1, 0.6) within 1e-5 relative", () => {
  assert.ok(batches.some((b) => b.mask.some((m, i) => m === 1 && b.reg[i] === 0)), "some target positions are outside D_reg");
  assert.ok(batches.some((b) => b.mask.includes(0)), "some positions are prompt or padding");
  for (const b of batches)
    for (const [lambda, alpha] of [[0, 1], [0.8, 1], [3, 0.6]]) {
      const got = tf.tidy(() => finetuneBatchLoss({ params: model, config: c, regulariser: { guide: guide(snapshot, alpha), lambda } }, b, 0).dataSync()[0]);
      const want = reference(b, lambda, alpha).loss;
      assert.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `λ ${lambda} α ${alpha}: ${got} vs ${want}`);
    }
});

test("its gradient in θ = the chain rule through the float64 dL/dlogits (1e-5 relative); none through q, even when θ̄ is θ", () => {
  const vars = lmVariables(model);
  const names = Object.keys(vars);
  const grads = (f: () => tf.Scalar) => {
    const { value, grads: g } = tf.variableGrads(f, Object.values(vars));
    value.dispose();
    const out = names.map((k) => Float64Array.from(g[vars[k].name].dataSync()));
    tf.dispose(Object.values(g));
    return out;
  };
  const lambda = 1.5, alpha = 0.8, b = batches[1];
  const ref = reference(b, lambda, alpha);
  const got = grads(() => finetuneBatchLoss({ params: model, config: c, regulariser: { guide: guide(snapshot, alpha), lambda } }, b, 0));
  // Σ_{i,v} G64[i, v] · logits(θ)[i, v] has gradient Σ G64 ∂logits/∂θ: the formula's gradient, backpropagated by tfjs.
  const want = grads(() => {
    const logits = lmForward(model, c, tf.tensor2d(ref.inputs, undefined, "int32")).logits;
    return tf.sum(tf.mul(logits.reshape([-1]), tf.tensor1d(Float32Array.from(ref.dLogits)))) as tf.Scalar;
  });
  names.forEach((k, i) => assert.ok(relErr(got[i], want[i]) < 1e-5, `${k}: relative error ${relErr(got[i], want[i])}`));
  // θ̄ = θ (shared variables): q must still be a constant, so the gradient equals the one for a separate copy of θ.
  const copy = perturbedLM(c, 1);
  const viaCopy = grads(() => finetuneBatchLoss({ params: model, config: c, regulariser: { guide: guide(copy, alpha), lambda } }, b, 0));
  const viaSelf = grads(() => finetuneBatchLoss({ params: model, config: c, regulariser: { guide: guide(model, alpha), lambda } }, b, 0));
  names.forEach((k, i) => assert.deepEqual(Array.from(viaSelf[i]), Array.from(viaCopy[i]), k));
  for (const v of Object.values(lmVariables(copy))) v.dispose();
});

test("finetuneLM differentiates exactly that loss on drawBatch(seed, step): its first step's loss, for λ = 0, λ > 0 and no regulariser", async () => {
  const copyOf = (p: LMParams) => {
    const q = perturbedLM(c, 9);
    for (const [k, v] of Object.entries(lmVariables(q))) v.assign(lmVariables(p)[k]);
    return q;
  };
  for (const reg of [undefined, { guide: guide(snapshot, 0.7), lambda: 0 }, { guide: guide(snapshot, 0.7), lambda: 2 }]) {
    const p = copyOf(model);
    const want = tf.tidy(() => finetuneBatchLoss({ params: p, config: c, regulariser: reg }, drawBatch(data, 4, c.contextLength, PAD, 13, 0), 0).dataSync()[0]);
    const history = await finetuneLM({ params: p, config: c, data, pad: PAD, steps: 2, batchSize: 4, lr: 1e-3, warmup: 0, weightDecay: 0, clipNorm: 1, seed: 13, regulariser: reg });
    assert.equal(history[0].loss, want, `λ ${reg?.lambda}`);
    assert.notEqual(history[1].loss, want, "the second step sees another batch and moved weights");
    for (const v of Object.values(lmVariables(p))) v.dispose();
  }
});
