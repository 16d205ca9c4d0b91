// The "acft" backend end to end: buffer recycling never corrupts data a user or a view can still
// see; the LM (ml/lm.ts) with the fused ops agrees with the float64 reference of test/ml and with
// the stock cpu path, forward, gradients and KV-cache decoding; a training step leaks no tensors;
// the fused AdamW equals the tfjs-op AdamW.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { PRESETS, disposeKVCache, disposeParams, initLM, lmForward, lmLoss, lmVariables } from "../../ml/lm.ts";
import { resetOpsImpl, setOpsImpl } from "../../ml/ops.ts";
import { FAST_BACKEND, adamwStep, adamwStepReference, fastOps, registerFastBackend, type AdamWSlot } from "../../ml/fast/index.ts";
import { refForward, refLoss } from "../ml/reference.ts";
import { perturbedLM, randomIds, relErr, toRef } from "../ml/helpers.ts";
import { randn, setup, skipReason } from "./helpers.ts";

const skip = skipReason();
await setup();
const opts = skip ? { skip } : {};
const c = PRESETS.tiny;

/** Runs fn on the acft backend with the fused ops, restoring cpu + reference ops afterwards. */
const onFast = async <T>(fn: () => T | Promise<T>): Promise<T> => {
  await tf.setBackend(FAST_BACKEND);
  setOpsImpl(fastOps);
  try {
    return await fn();
  } finally {
    resetOpsImpl();
    await tf.setBackend("cpu");
  }
};

test("registerFastBackend is idempotent", opts, async () => {
  assert.equal(await registerFastBackend(), FAST_BACKEND);
  assert.equal(await registerFastBackend(), FAST_BACKEND);
});

test("recycled buffers never overwrite a dataSync() array or a stock kernel's view", opts, () => onFast(() => {
  const x = tf.tensor(randn([64, 8], 1).values, [64, 8]);
  const a = tf.add(x, 1); // native output: a pooled buffer
  const seen = a.dataSync();
  const copy = Float32Array.from(seen);
  const prod = tf.mul(x, 2); // native output: a pooled buffer
  const rows = tf.unstack(prod); // the stock Unpack kernel returns subarray views of prod
  const row0 = Float32Array.from(rows[0].dataSync());
  a.dispose();
  for (let i = 0; i < 5; i++) tf.add(x, 100 + i).dispose(); // same size: would reuse a's buffer
  assert.deepEqual(seen, copy, "a dataSync() array changed after its tensor was disposed");
  prod.dispose();
  for (let i = 0; i < 5; i++) tf.mul(x, 7 + i).dispose();
  assert.deepEqual(rows[0].dataSync(), row0, "a view kept by a stock kernel was overwritten");
  tf.dispose([x, ...rows]);
}));

test("LM forward and masked loss on the fast path equal the float64 reference", opts, () => onFast(() => {
  const p = perturbedLM(c, 1);
  const ref = toRef(p);
  const ids = randomIds(2, c.contextLength, c.vocabSize, 2);
  const logits = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids, undefined, "int32")).logits.arraySync());
  ids.forEach((row, b) => {
    const err = relErr(logits[b].flat(), refForward(ref, c, row).flatMap((r) => [...r]));
    assert.ok(err < 1e-4, `sequence ${b}: relative error ${err}`);
  });
  const batch = randomIds(3, 9, c.vocabSize, 4);
  const mask = [[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 0], [0, 1, 0, 1, 0, 1, 0, 1]];
  const got = tf.tidy(() => lmLoss(p, c, tf.tensor2d(batch, undefined, "int32"), tf.tensor2d(mask)).dataSync()[0]);
  const want = refLoss(ref, c, batch, mask);
  assert.ok(Math.abs(got - want) / want < 1e-4, `loss ${got} vs reference ${want}`);
  disposeParams(lmVariables(p));
}));

/** Loss gradients of every LM variable, keyed by our variable keys. */
const lmGrads = (seed: number): Record<string, Float32Array> => {
  const p = perturbedLM(c, seed);
  const vars = lmVariables(p);
  const ids = tf.tensor2d(randomIds(2, c.contextLength + 1, c.vocabSize, seed + 1), undefined, "int32");
  const { value, grads } = tf.variableGrads(() => lmLoss(p, c, ids));
  const out = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, grads[v.name].dataSync() as Float32Array]));
  tf.dispose([value, ids, ...Object.values(grads)]);
  disposeParams(vars);
  return out;
};

test("LM gradients on the fast path equal the stock cpu path with reference ops", opts, async () => {
  const want = lmGrads(5);
  const got = await onFast(() => lmGrads(5));
  for (const k of Object.keys(want)) {
    const err = relErr(got[k], want[k]);
    assert.ok(err < 1e-3, `gradient of ${k}: relative error ${err}`);
  }
});

test("KV-cache decoding on the fast path equals the full forward", opts, () => onFast(() => {
  const p = perturbedLM(c, 9);
  const ids = randomIds(2, 8, c.vocabSize, 10);
  const before = tf.memory().numTensors;
  const full = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids, undefined, "int32")).logits.arraySync());
  // prefill 3 tokens, then one at a time (Tq = 1 < Tk in the fused attention)
  let out = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids.map((r) => r.slice(0, 3)), undefined, "int32"), { useCache: true }));
  let cache = out.kvCache;
  tf.dispose([out.logits, out.hidden]);
  for (let t = 3; t < 8; t++) {
    out = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids.map((r) => [r[t]]), undefined, "int32"), { kvCache: cache }));
    const step = out.logits.arraySync();
    ids.forEach((_, b) => assert.ok(relErr(step[b][0], full[b][t]) < 1e-4, `position ${t}, sequence ${b}`));
    disposeKVCache(cache);
    tf.dispose([out.logits, out.hidden]);
    cache = out.kvCache;
  }
  disposeKVCache(cache);
  assert.equal(tf.memory().numTensors, before, "cached decoding leaked tensors");
  disposeParams(lmVariables(p));
}));

test("fused AdamW equals the tfjs-op AdamW over several steps", opts, () => onFast(() => {
  const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const make = () => {
    const p = tf.variable(tf.tensor(randn([7, 13], 20).values, [7, 13]));
    return { p, slot: { m: tf.variable(tf.zerosLike(p)), v: tf.variable(tf.zerosLike(p)) } as AdamWSlot };
  };
  const a = make(), b = make();
  for (let t = 1; t <= 4; t++) {
    const g = tf.tensor(randn([7, 13], 30 + t).values, [7, 13]);
    adamwStep(a.p, g, a.slot, t, hp);
    adamwStepReference(b.p, g, b.slot, t, hp);
    g.dispose();
  }
  for (const [x, y] of [[a.p, b.p], [a.slot.m, b.slot.m], [a.slot.v, b.slot.v]]) {
    assert.ok(relErr(x.dataSync(), y.dataSync()) < 1e-5);
  }
  assert.throws(() => adamwStep(a.p, a.p, a.slot, 0, hp), /step must be an integer >= 1/);
  tf.dispose([a.p, a.slot.m, a.slot.v, b.p, b.slot.m, b.slot.v]);
}));

test("a fast training step leaks no tensors after burn-in", opts, () => onFast(() => {
  const p = initLM(c, 3);
  const vars = lmVariables(p);
  const slots = Object.fromEntries(Object.entries(vars).map(([k, v]) =>
    [k, { m: tf.variable(tf.zerosLike(v)), v: tf.variable(tf.zerosLike(v)) }])) as Record<string, AdamWSlot>;
  const ids = tf.tensor2d(randomIds(2, c.contextLength + 1, c.vocabSize, 4), undefined, "int32");
  const hp = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const losses: number[] = [];
  const step = (t: number) => {
    const { value, grads } = tf.variableGrads(() => lmLoss(p, c, ids));
    losses.push(value.dataSync()[0]);
    for (const [k, v] of Object.entries(vars)) adamwStep(v, grads[v.name], slots[k], t, hp);
    tf.dispose([value, ...Object.values(grads)]);
  };
  step(1);
  const before = tf.memory().numTensors;
  for (let t = 2; t <= 6; t++) step(t);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(losses[5] < losses[0], `loss should fall on a fixed batch: ${losses.join(", ")}`);
  disposeParams(vars);
  tf.dispose([ids, ...Object.values(slots).flatMap((s) => [s.m, s.v])]);
}));

test("fastOps.adamwUpdate (ml/adamw.ts's hook) equals referenceOps.adamwUpdate on cpu", opts, async () => {
  const { referenceOps } = await import("../../ml/ops.ts");
  const run = async (backend: string, update: typeof referenceOps.adamwUpdate): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    const p = tf.variable(tf.tensor(randn([5, 9], 40).values, [5, 9]));
    const m = tf.variable(tf.zerosLike(p)), v = tf.variable(tf.zerosLike(p));
    for (let t = 1; t <= 3; t++) {
      const g = tf.tensor(randn([5, 9], 41 + t).values, [5, 9]);
      const h = { lr: 0.02, b1: 0.9, b2: 0.99, t, c1: 1 - 0.9 ** t, c2: 1 - 0.99 ** t, eps: 1e-8, wd: 0.1 };
      update(p, g, m, v, h);
      g.dispose();
    }
    const out = [p, m, v].map((x) => Float32Array.from(x.dataSync()));
    tf.dispose([p, m, v]);
    await tf.setBackend("cpu");
    return out;
  };
  const got = await run(FAST_BACKEND, fastOps.adamwUpdate!);
  const want = await run("cpu", referenceOps.adamwUpdate);
  got.forEach((g, i) => assert.ok(relErr(g, want[i]) < 1e-5, `state ${i}: ${relErr(g, want[i])}`));
});

test("ml/backend.ts initBackend('fast') installs the fused ops, also after a reset", opts, async () => {
  const { initBackend } = await import("../../ml/backend.ts");
  const { ops, referenceOps } = await import("../../ml/ops.ts");
  try {
    for (let i = 0; i < 2; i++) {
      const choice = await initBackend("fast");
      assert.equal(choice.name, "fast");
      assert.equal(tf.getBackend(), FAST_BACKEND);
      assert.notEqual(ops().gelu, referenceOps.gelu, `call ${i}: fused gelu not installed`);
    }
  } finally {
    resetOpsImpl();
    await tf.setBackend("cpu");
  }
});
