// The tfjs NADO losses, guided log-probs and closed-form KL regulariser against float64 references
// written from the formulas (docs/method.md §2–§3), plus the gradient properties the method relies on.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { klToTarget, regularisedLoss } from "../../ml/finetune.ts";
import { guidedLogProbs, nadoLoss } from "../../ml/nado/losses.ts";
import { ops } from "../../ml/ops.ts";
import { makeRng } from "../../ml/prng.ts";

await initBackend("wasm");
const rng = makeRng(11);
const randn = (n: number, scale = 1) => Float32Array.from({ length: n }, () => rng.normal() * scale);
const sig = (z: number) => 1 / (1 + Math.exp(-z));
const logSoftmax64 = (row: ArrayLike<number>): number[] => {
  const m = Math.max(...Array.from(row));
  const lse = m + Math.log(Array.from(row).reduce((s, x) => s + Math.exp(x - m), 0));
  return Array.from(row, (x) => x - lse);
};

test("guidedLogProbs = log(p·σ(z)^α / Σ) in float64 (α = 1, 0.5, 2), within 1e-5", () => {
  const N = 8, V = 7;
  const pl = randn(N * V, 2), z = randn(N * V, 3);
  for (const alpha of [1, 0.5, 2]) {
    const got = tf.tidy(() => guidedLogProbs(tf.tensor2d(pl, [N, V]), tf.tensor2d(z, [N, V]), alpha).dataSync());
    for (let i = 0; i < N; i++) {
      const lp = logSoftmax64(pl.subarray(i * V, (i + 1) * V));
      const w = lp.map((l, v) => Math.exp(l) * sig(z[i * V + v]) ** alpha);
      const s = w.reduce((a, b) => a + b, 0);
      for (let v = 0; v < V; v++) assert.ok(Math.abs(got[i * V + v] - Math.log(w[v] / s)) < 1e-5, `α=${alpha} row ${i} v ${v}`);
    }
  }
});

test("guidedLogProbs gives q(v) = 0 exactly where R = 0 (z = −∞), and stays finite elsewhere", () => {
  const q = tf.tidy(() => tf.exp(guidedLogProbs(tf.tensor2d([[0.1, 0.2, 0.3]]), tf.tensor2d([[-Infinity, 0, 2]]))).dataSync());
  assert.equal(q[0], 0);
  assert.ok(Math.abs(q[1] + q[2] - 1) < 1e-6 && q[1] > 0);
});

test("klToTarget = Σ q log(q/p) in float64 (q with exact zeros) within 1e-6; gradient = softmax − q within 1e-6", () => {
  const N = 6, V = 9;
  const logits = randn(N * V, 2);
  const qRaw = Float32Array.from(randn(N * V, 1.5), (x, i) => (i % 4 === 0 ? -Infinity : x));
  const qLog = new Float32Array(N * V);
  for (let i = 0; i < N; i++) logSoftmax64(qRaw.subarray(i * V, (i + 1) * V)).forEach((l, v) => (qLog[i * V + v] = l));
  const lg = tf.tensor2d(logits, [N, V]);
  const ql = tf.tensor2d(qLog, [N, V]);
  const kl = tf.tidy(() => klToTarget(ql, lg).dataSync());
  const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(klToTarget(ql, x as tf.Tensor2D)))(lg).dataSync());
  for (let i = 0; i < N; i++) {
    const lp = logSoftmax64(logits.subarray(i * V, (i + 1) * V));
    let ref = 0;
    for (let v = 0; v < V; v++) {
      const q = Math.exp(qLog[i * V + v]);
      if (q > 0) ref += q * (qLog[i * V + v] - lp[v]);
      assert.ok(Math.abs(g[i * V + v] - (Math.exp(lp[v]) - q)) < 1e-6, `grad row ${i} v ${v}`);
    }
    assert.ok(Math.abs(kl[i] - ref) < 1e-6, `row ${i}: ${kl[i]} vs ${ref}`);
  }
  tf.dispose([lg, ql]);
});

/** A toy "model": logits = x W for a fixed input x; the snapshot may share W (the worst case). */
const setup = () => {
  const N = 10, C = 4, V = 6;
  const x = tf.tensor2d(randn(N * C), [N, C]);
  const W = tf.variable(tf.tensor2d(randn(C * V), [C, V]));
  const Wsnap = tf.variable(W.clone());
  const Wnado = tf.variable(tf.tensor2d(randn(C * V), [C, V]));
  const targets = tf.tensor1d(Int32Array.from({ length: N }, (_, i) => i % V), "int32");
  const tokenMask = tf.tensor1d(Float32Array.from({ length: N }, (_, i) => (i === N - 1 ? 0 : 1)));
  const regMask = tf.tensor1d(Float32Array.from({ length: N }, (_, i) => (i < 5 ? 1 : 0)));
  return { N, V, x, W, Wsnap, Wnado, targets, tokenMask, regMask };
};

test("λ = 0 reproduces plain fine-tuning exactly: same loss and bit-identical gradient", () => {
  const s = setup();
  const plain = tf.variableGrads(() => ops().softmaxCrossEntropy(tf.matMul(s.x, s.W), s.targets, s.tokenMask), [s.W]);
  const reg = tf.variableGrads(() => {
    const q = guidedLogProbs(tf.matMul(s.x, s.Wsnap), tf.matMul(s.x, s.Wnado));
    return regularisedLoss({ logits: tf.matMul(s.x, s.W), targets: s.targets, tokenMask: s.tokenMask, regMask: s.regMask, qLogProbs: q as tf.Tensor2D }, 0, ops().softmaxCrossEntropy).loss;
  }, [s.W]);
  assert.equal(reg.value.dataSync()[0], plain.value.dataSync()[0]);
  assert.deepEqual(Array.from(reg.grads[s.W.name].dataSync()), Array.from(plain.grads[s.W.name].dataSync()));
});

test("regulariser gradient: no gradient reaches the snapshot or the NADO, even when the snapshot IS θ; = plain + λ·mask·(softmax − q)/#tokens", () => {
  const s = setup();
  const lambda = 0.7;
  const loss = (snap: tf.Variable) => () => {
    const q = guidedLogProbs(tf.matMul(s.x, snap), tf.matMul(s.x, s.Wnado)) as tf.Tensor2D;
    return regularisedLoss({ logits: tf.matMul(s.x, s.W), targets: s.targets, tokenMask: s.tokenMask, regMask: s.regMask, qLogProbs: q }, lambda, ops().softmaxCrossEntropy).loss;
  };
  const separate = tf.variableGrads(loss(s.Wsnap), [s.W, s.Wsnap, s.Wnado]);
  const shared = tf.variableGrads(loss(s.W), [s.W, s.Wnado]); // q built from θ itself
  for (const v of [s.Wsnap, s.Wnado]) assert.ok(Math.max(...Array.from(tf.abs(separate.grads[v.name]).dataSync())) === 0, `${v.name} got a gradient`);
  const gW = separate.grads[s.W.name].dataSync();
  assert.deepEqual(Array.from(shared.grads[s.W.name].dataSync()), Array.from(gW));
  // Reference in float64: dL/dlogits_i = tokenMask_i (softmax_i − onehot_i)/#tok + λ reg_i (softmax_i − q_i)/#tok.
  const logits = tf.matMul(s.x, s.W).dataSync();
  const q = tf.exp(guidedLogProbs(tf.matMul(s.x, s.Wsnap), tf.matMul(s.x, s.Wnado))).dataSync();
  const tm = s.tokenMask.dataSync(), rm = s.regMask.dataSync(), tg = s.targets.dataSync(), X = s.x.dataSync();
  const nTok = Array.from(tm).reduce((a, b) => a + b, 0);
  const dLogits = new Float64Array(s.N * s.V);
  for (let i = 0; i < s.N; i++) {
    const p = logSoftmax64(logits.subarray(i * s.V, (i + 1) * s.V)).map(Math.exp);
    for (let v = 0; v < s.V; v++)
      dLogits[i * s.V + v] = (tm[i] * (p[v] - (tg[i] === v ? 1 : 0)) + lambda * rm[i] * (p[v] - q[i * s.V + v])) / nTok;
  }
  const C = 4;
  for (let c = 0; c < C; c++)
    for (let v = 0; v < s.V; v++) {
      let ref = 0;
      for (let i = 0; i < s.N; i++) ref += X[i * C + c] * dLogits[i * s.V + v];
      assert.ok(Math.abs(gW[c * s.V + v] - ref) < 1e-5, `dW[${c},${v}] ${gW[c * s.V + v]} vs ${ref}`);
    }
});

/** float64 NADO loss from docs/method.md §2, written with loops. */
const nadoLoss64 = (z: Float32Array, lp: Float32Array, tg: Int32Array, mask: Float32Array, c: Float32Array, w: Float32Array, B: number, T: number, V: number, beta: number) => {
  let bce = 0, bw = 0, kl = 0, kw = 0;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      if (!mask[b * T + t]) continue;
      const a = sig(z[(b * T + t) * V + tg[b * T + t]]);
      bce += w[b] * -(c[b] * Math.log(a) + (1 - c[b]) * Math.log(1 - a));
      bw += w[b];
      if (t + 1 < T && mask[b * T + t + 1]) {
        let r = 0;
        for (let v = 0; v < V; v++) r += Math.exp(lp[(b * T + t + 1) * V + v]) * sig(z[(b * T + t + 1) * V + v]);
        kl += w[b] * (a * Math.log(a / r) + (1 - a) * Math.log((1 - a) / (1 - r)));
        kw += w[b];
      }
    }
  return { bce: bce / bw, consistency: kl / kw, loss: bce / bw + beta * (kl / kw) };
};

test("nadoLoss (BCE + β·consistency KL, weighted, masked) = float64 formula within 1e-5, no tensors leaked", () => {
  const B = 5, T = 6, V = 4;
  const z = randn(B * T * V, 2);
  const lpRaw = randn(B * T * V);
  const lp = new Float32Array(B * T * V);
  for (let r = 0; r < B * T; r++) logSoftmax64(lpRaw.subarray(r * V, (r + 1) * V)).forEach((l, v) => (lp[r * V + v] = l));
  const tg = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * V));
  const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T === 0 || (i % T === T - 1 && i < T * 2) ? 0 : 1)); // prompt + a padded tail
  const c = Float32Array.of(1, 0, 1, 0.3, 0);
  const w = Float32Array.of(0.1, 0.3, 0.2, 0.25, 0.15);
  const args = { z: tf.tensor3d(z, [B, T, V]), logp: tf.tensor3d(lp, [B, T, V]), targets: tf.tensor2d(tg, [B, T], "int32"), mask: tf.tensor2d(mask, [B, T]), labels: tf.tensor1d(c), weights: tf.tensor1d(w) };
  const before = tf.memory().numTensors;
  const got = nadoLoss(args, 0.5);
  const vals = { loss: got.loss.dataSync()[0], bce: got.bce.dataSync()[0], consistency: got.consistency.dataSync()[0] };
  tf.dispose([got.loss, got.bce, got.consistency]);
  assert.equal(tf.memory().numTensors, before);
  const ref = nadoLoss64(z, lp, tg, mask, c, w, B, T, V, 0.5);
  for (const k of ["loss", "bce", "consistency"] as const) assert.ok(Math.abs(vals[k] - ref[k]) < 1e-5, `${k}: ${vals[k]} vs ${ref[k]}`);
  tf.dispose(Object.values(args));
});

test("nadoLoss gradient in z = central differences of the float64 formula (fused childMass / pickLast)", () => {
  const B = 3, T = 5, V = 6, beta = 0.7;
  const z = randn(B * T * V, 2);
  const lpRaw = randn(B * T * V);
  const lp = new Float32Array(B * T * V);
  for (let r = 0; r < B * T; r++) logSoftmax64(lpRaw.subarray(r * V, (r + 1) * V)).forEach((l, v) => (lp[r * V + v] = l));
  const tg = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * V));
  const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T === 0 ? 0 : 1));
  const c = Float32Array.of(1, 0, 0.4);
  const w = Float32Array.of(0.5, 0.2, 0.3);
  const fixed = { targets: tf.tensor2d(tg, [B, T], "int32"), mask: tf.tensor2d(mask, [B, T]), labels: tf.tensor1d(c), weights: tf.tensor1d(w) };
  const before = tf.memory().numTensors;
  // Only z is differentiated: logp is the frozen base's (off the simplex, 1 − Σ p σ(z) and Σ p σ(−z) differ).
  const logp = tf.tensor3d(lp, [B, T, V]);
  const gz = tf.tidy(() => tf.grad((zz: tf.Tensor) => nadoLoss({ ...fixed, z: zz as tf.Tensor3D, logp }, beta).loss)(tf.tensor3d(z, [B, T, V])).dataSync());
  assert.equal(tf.memory().numTensors, before + 1);
  const at = (x: Float32Array, i: number, d: number) => { const y = Float32Array.from(x); y[i] += d; return y; };
  const eps = 1e-3;
  for (let i = 0; i < B * T * V; i++) {
    const fz = (nadoLoss64(at(z, i, eps), lp, tg, mask, c, w, B, T, V, beta).loss - nadoLoss64(at(z, i, -eps), lp, tg, mask, c, w, B, T, V, beta).loss) / (2 * eps);
    assert.ok(Math.abs(gz[i] - fz) < 2e-4, `dz[${i}] ${gz[i]} vs ${fz}`);
  }
  tf.dispose([logp, ...Object.values(fixed)]);
});
