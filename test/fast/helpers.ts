// Shared helpers for test/fast: run the same computation on the stock "cpu" backend (reference)
// and on "acft" (native kernels / fused ops), and compare element-wise.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { makeRng } from "../../ml/prng.ts";
import { FAST_BACKEND, fastOps, registerFastBackend } from "../../ml/fast/index.ts";
import { resetOpsImpl, setOpsImpl } from "../../ml/ops.ts";
import { addonPath } from "../../ml/fast/addon.ts";
import { existsSync } from "node:fs";

/** Why the native suites must skip, or null when the addon is built. */
export const skipReason = (): string | null =>
  existsSync(addonPath) ? null : `native addon not built (${addonPath}); run \`node scripts/build-native.mjs\``;

export const setup = async (): Promise<void> => {
  if (skipReason()) return;
  await registerFastBackend();
  await tf.setBackend("cpu");
};

/** Runs fn on `backend` (the fast one with its fused ops installed), back to cpu + reference ops after. */
export const onBackend = async <T>(backend: string, fn: () => Promise<T> | T): Promise<T> => {
  await tf.setBackend(backend);
  if (backend === FAST_BACKEND) setOpsImpl(fastOps);
  try {
    return await fn();
  } finally {
    resetOpsImpl();
    await tf.setBackend("cpu");
  }
};

/** A plain description of an input: shape + values (float32 or int32). */
export type Spec = { shape: number[]; values: Float32Array | Int32Array };

export const randn = (shape: number[], seed: number, scale = 1): Spec => {
  const rng = makeRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Float32Array.from({ length: n }, () => rng.normal() * scale) };
};

export const randint = (shape: number[], hi: number, seed: number): Spec => {
  const rng = makeRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Int32Array.from({ length: n }, () => Math.floor(rng.next() * hi)) };
};

const toTensor = (s: Spec): tf.Tensor =>
  tf.tensor(s.values, s.shape, s.values instanceof Int32Array ? "int32" : "float32");

/** Runs fn on `backend` over fresh tensors made from specs; returns each output's shape and values. */
export const runOn = (backend: string, specs: Spec[], fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]):
  { shape: number[]; values: Float32Array | Int32Array | Uint8Array }[] => {
  void tf.setBackend(backend); // synchronous for initialised cpu-class backends
  const out = tf.tidy(() => {
    const r = fn(...specs.map(toTensor));
    return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
  });
  void tf.setBackend("cpu");
  return out;
};

/** |got - want| <= atol + rtol |want| everywhere, and identical shapes. */
export const assertClose = (got: ReturnType<typeof runOn>, want: ReturnType<typeof runOn>, what: string,
  rtol = 1e-4, atol = 1e-5): void => {
  assert.equal(got.length, want.length, `${what}: number of outputs`);
  got.forEach((g, o) => {
    assert.deepEqual(g.shape, want[o].shape, `${what}: shape of output ${o}`);
    for (let i = 0; i < g.values.length; i++) {
      const a = g.values[i], b = want[o].values[i];
      if (Number.isNaN(b) && Number.isNaN(a)) continue;
      if (a === b) continue; // covers +-Infinity
      assert.ok(Math.abs(a - b) <= atol + rtol * Math.abs(b),
        `${what}: output ${o}[${i}] = ${a}, reference ${b} (shape ${JSON.stringify(g.shape)})`);
    }
  });
};

type Fn = (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[];

/** Compares `fast` on "acft" against `ref` (default: the same function) on the stock "cpu" backend. */
export const agree = (what: string, specs: Spec[], fast: Fn, ref: Fn = fast, rtol = 1e-4, atol = 1e-5): void => {
  assertClose(runOn(FAST_BACKEND, specs, fast), runOn("cpu", specs, ref), what, rtol, atol);
};

/**
 * Gradients of sum(f(xs) * w) for a fixed random weight w (a random upstream gradient), w.r.t.
 * the float inputs, plus the value itself.
 */
export const withGrads = (f: (...xs: tf.Tensor[]) => tf.Tensor, floatArgs: number[], seed: number) =>
  (...xs: tf.Tensor[]): tf.Tensor[] => {
    const value = f(...xs);
    const w = tf.tensor(randn(value.shape, seed).values, value.shape);
    const loss = (...vs: tf.Tensor[]) => {
      const all = xs.slice();
      floatArgs.forEach((a, i) => (all[a] = vs[i]));
      return tf.sum(tf.mul(f(...all), w)) as tf.Scalar;
    };
    return [value, ...tf.grads(loss)(floatArgs.map((a) => xs[a]))];
  };
