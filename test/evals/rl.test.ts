// RL pieces against analytic results and a float64 reference.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { buildRLBatch, disposeRLBatch, klToReference, oracleReward, rlObjective, rlooAdvantages, sequenceLogProbs } from "../../ml/rl.ts";
import { makeRng } from "../../ml/prng.ts";

await tf.setBackend("cpu");

const close = (a: number, b: number, tol: number, what = "") => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test("rlooAdvantages: r − mean of the others; equals K/(K−1)(r − mean); sums to 0 per prompt", () => {
  const A = rlooAdvantages([
    [1, 0, 0, 1],
    [0.5, 0.5],
    [3, 0, 0],
  ]);
  const eq = (a: number[], b: number[]) => a.forEach((x, i) => close(x, b[i], 1e-15));
  eq(A[0], [2 / 3, -2 / 3, -2 / 3, 2 / 3]);
  eq(A[1], [0, 0]); // equal rewards carry no signal
  eq(A[2], [3, -1.5, -1.5]);
  const rng = makeRng(3);
  const rs = Array.from({ length: 5 }, () => Array.from({ length: 6 }, () => rng.next()));
  rlooAdvantages(rs).forEach((a, p) => {
    const m = rs[p].reduce((s, x) => s + x, 0) / 6;
    close(a.reduce((s, x) => s + x, 0), 0, 1e-12, "sum");
    a.forEach((x, k) => close(x, (6 / 5) * (rs[p][k] - m), 1e-12, "K/(K-1) form"));
  });
  assert.throws(() => rlooAdvantages([[1, 2], [1]]), /prompt 1 has 1 samples/);
});

// float64 reference log-softmax
const logSoftmax64 = (z: number[]): number[] => {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, x) => s + Math.exp(x - m), 0));
  return z.map((x) => x - lse);
};

function randomCase(B: number, T: number, V: number, seed: number) {
  const rng = makeRng(seed);
  const logits = Array.from({ length: B * T * V }, () => rng.normal() * 2);
  const ref = Array.from({ length: B * T * V }, () => rng.normal() * 2);
  const targets = Array.from({ length: B * T }, () => Math.floor(rng.next() * V));
  const mask = Array.from({ length: B * T }, () => (rng.next() < 0.6 ? 1 : 0));
  const adv = Array.from({ length: B }, () => rng.normal());
  return { logits, ref, targets, mask, adv };
}

test("sequenceLogProbs and klToReference equal a float64 reference", () => {
  const [B, T, V] = [3, 5, 7];
  const c = randomCase(B, T, V, 1);
  const row = (a: number[], b: number, t: number) => a.slice((b * T + t) * V, (b * T + t + 1) * V);
  const [slp, kl] = tf.tidy(() => {
    const l = tf.tensor3d(c.logits, [B, T, V]);
    const r = tf.tensor3d(c.ref, [B, T, V]);
    const m = tf.tensor2d(c.mask, [B, T]);
    return [sequenceLogProbs(l, tf.tensor2d(c.targets, [B, T], "int32"), m).arraySync(), klToReference(l, r, m).arraySync()];
  });
  for (let b = 0; b < B; b++) {
    let s = 0;
    let k = 0;
    for (let t = 0; t < T; t++) {
      if (!c.mask[b * T + t]) continue;
      const lp = logSoftmax64(row(c.logits, b, t));
      const lr = logSoftmax64(row(c.ref, b, t));
      s += lp[c.targets[b * T + t]];
      k += lp.reduce((acc, x, v) => acc + Math.exp(x) * (x - lr[v]), 0);
    }
    close(slp[b], s, 1e-4 * Math.max(1, Math.abs(s)), "seq logprob");
    close(kl[b], k, 1e-4 * Math.max(1, Math.abs(k)), "kl");
  }
  // KL of a distribution to itself is 0
  const self = tf.tidy(() => {
    const l = tf.tensor3d(c.logits, [B, T, V]);
    return klToReference(l, l, tf.ones([B, T])).arraySync();
  });
  self.forEach((x) => close(x, 0, 1e-5, "self-KL"));
});

test("rlObjective gradient w.r.t. logits equals the analytic REINFORCE + KL gradient", () => {
  // ∂/∂z[b,t,j] of −(1/B) A_b log p(y) = −(A_b/B)(1[j=y] − p_j);
  // ∂/∂z[b,t,j] of (β/B) KL(p‖r) = (β/B) p_j (log p_j − log r_j − KL_t)        (masked positions only)
  const [B, T, V, beta] = [2, 4, 5, 0.3];
  const c = randomCase(B, T, V, 2);
  const g = tf.tidy(() => {
    const targets = tf.tensor2d(c.targets, [B, T], "int32");
    const mask = tf.tensor2d(c.mask, [B, T]);
    const ref = tf.tensor3d(c.ref, [B, T, V]);
    const adv = tf.tensor1d(c.adv);
    const f = (z: tf.Tensor) => rlObjective(z as tf.Tensor3D, ref, targets, mask, adv, beta);
    return tf.grad(f)(tf.tensor3d(c.logits, [B, T, V])).dataSync();
  });
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      const lp = logSoftmax64(c.logits.slice(i * V, (i + 1) * V));
      const lr = logSoftmax64(c.ref.slice(i * V, (i + 1) * V));
      const klt = lp.reduce((s, x, v) => s + Math.exp(x) * (x - lr[v]), 0);
      for (let j = 0; j < V; j++) {
        const p = Math.exp(lp[j]);
        const expected = c.mask[i] ? (-(c.adv[b] / B) * ((j === c.targets[i] ? 1 : 0) - p) + (beta / B) * p * (lp[j] - lr[j] - klt)) : 0;
        close(g[i * V + j], expected, 1e-5, `grad[${b},${t},${j}]`);
      }
    }
});

test("buildRLBatch right-pads and masks exactly the completion targets", () => {
  const n0 = tf.memory().numTensors;
  const b = buildRLBatch([{ prompt: [1, 2], completion: [5, 6, 7] }, { prompt: [1], completion: [4] }], [0.5, -0.5], 16, 0);
  assert.deepEqual(b.ids.arraySync(), [
    [1, 2, 5, 6, 7],
    [1, 4, 0, 0, 0],
  ]);
  // targets are ids[:, 1:]: row 0 targets 2,5,6,7 → completion at 5,6,7; row 1 targets 4,0,0,0 → only 4
  assert.deepEqual(b.mask.arraySync(), [
    [0, 1, 1, 1],
    [1, 0, 0, 0],
  ]);
  disposeRLBatch(b);
  assert.equal(tf.memory().numTensors, n0);
  assert.throws(() => buildRLBatch([{ prompt: [], completion: [1] }], [0], 16), /empty prompt/);
  assert.throws(() => buildRLBatch([{ prompt: [1, 2, 3], completion: [1, 2] }], [0], 3), /contextLength \+ 1 = 4/);
});

test("oracleReward: C(x) of the decoded completions, hard and soft", () => {
  const oracle = { toxicity: (ts: readonly string[]) => ts.map((t) => (t.includes("x") ? 0.8 : 0.3)) };
  const decode = (ids: readonly number[]) => ids.map((i) => "abx"[i]).join("");
  assert.deepEqual(oracleReward(oracle, decode)([[0, 1], [2], []]), [1, 0, 1]);
  const soft = oracleReward(oracle, decode, "soft")([[0], [2]]);
  close(soft[0], 0.7, 1e-12);
  close(soft[1], 0.2, 1e-12);
});
