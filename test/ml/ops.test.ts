import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { ops, referenceOps, resetOpsImpl, setOpsImpl, tokenLogProbs } from "../../ml/ops.ts";
import { PRESETS, disposeParams, initLM, lmForward, lmVariables } from "../../ml/lm.ts";

await tf.setBackend("cpu");

test("gelu is GPT-2's tanh form (values checked against float64 maths)", () => {
  const xs = [-3, -1, -0.5, 0, 0.3, 1, 2.5];
  const got = tf.tidy(() => ops().gelu(tf.tensor1d(xs)).dataSync());
  xs.forEach((x, i) => {
    const want = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    assert.ok(Math.abs(got[i] - want) < 1e-6, `gelu(${x}) = ${got[i]}, want ${want}`);
  });
});

test("causalAttention hides future keys and left padding; cached queries see all past keys", () => {
  // one head, hs = 1: with v = key index, the output is the attention-weighted mean of indices.
  const q = tf.zeros([1, 1, 3, 1]) as tf.Tensor4D; // zero scores -> uniform over allowed keys
  const k = tf.zeros([1, 1, 3, 1]) as tf.Tensor4D;
  const v = tf.tensor4d([0, 1, 2], [1, 1, 3, 1]);
  const out = tf.tidy(() => ops().causalAttention(q, k, v).dataSync());
  assert.deepEqual(Array.from(out), [0, 0.5, 1]); // means of {0}, {0,1}, {0,1,2}
  const bias = tf.tensor4d([-1e9, 0, 0], [1, 1, 1, 3]); // key 0 is padding
  const masked = tf.tidy(() => ops().causalAttention(q, k, v, bias).dataSync());
  assert.deepEqual(Array.from(masked).slice(1), [1, 1.5]);
  // Tq = 1 < Tk = 3: the single query is the last position and sees every key
  const last = tf.tidy(() => ops().causalAttention(tf.zeros([1, 1, 1, 1]) as tf.Tensor4D, k, v).dataSync());
  assert.ok(Math.abs(last[0] - 1) < 1e-6);
  tf.dispose([q, k, v, bias]);
});

test("cross-entropy: per-token values, masked mean, and log-probs match float64 maths", () => {
  const logits = [[1, 2, 3], [0.5, -1, 0], [2, 2, 2]];
  const targets = [2, 0, 1];
  const mask = [1, 0, 1];
  const lse = (r: number[]) => Math.log(r.reduce((a, x) => a + Math.exp(x), 0));
  const ce = logits.map((r, i) => lse(r) - r[targets[i]]);
  tf.tidy(() => {
    const L = tf.tensor2d(logits);
    const T = tf.tensor1d(targets, "int32");
    const per = ops().tokenCrossEntropy(L, T).dataSync();
    ce.forEach((v, i) => assert.ok(Math.abs(per[i] - v) < 1e-6));
    const m = ops().softmaxCrossEntropy(L, T, tf.tensor1d(mask)).dataSync()[0];
    assert.ok(Math.abs(m - (ce[0] + ce[2]) / 2) < 1e-6);
    const lp = tokenLogProbs(L, T).dataSync();
    ce.forEach((v, i) => assert.ok(Math.abs(lp[i] + v) < 1e-6));
    const ls = ops().logSoftmax(L).arraySync() as number[][];
    assert.ok(Math.abs(ls[1][2] - (0 - lse(logits[1]))) < 1e-6);
  });
});

test("setOpsImpl replaces an op inside the model; resetOpsImpl restores the reference", () => {
  const c = PRESETS.tiny;
  const p = initLM(c, 1);
  const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, "int32");
  const logits = () => tf.tidy(() => lmForward(p, c, ids).logits.dataSync());
  const base = logits();
  let calls = 0;
  setOpsImpl({ gelu: (x) => { calls++; return referenceOps.gelu(x); } });
  assert.deepEqual(logits(), base);
  assert.equal(calls, c.nLayers, "the model calls gelu through the op table, once per layer");
  setOpsImpl({ gelu: (x) => tf.relu(x) });
  assert.notDeepEqual(logits(), base);
  resetOpsImpl();
  assert.deepEqual(logits(), base);
  assert.equal(ops().gelu, referenceOps.gelu);
  ids.dispose();
  disposeParams(lmVariables(p));
});
