// Shared test helpers for test/ml.
import * as tf from "@tensorflow/tfjs";
import { initLM, lmVariables, type LMConfig, type LMParams } from "../../ml/lm.ts";
import type { RefParams } from "./reference.ts";
import { makeRng } from "../../ml/prng.ts";

/** An LM whose parameters are moved well away from init (std ~0.3 noise) so every path matters. */
export const perturbedLM = (c: LMConfig, seed: number, std = 0.3): LMParams => {
  const p = initLM(c, seed);
  const rng = makeRng(seed + 7);
  for (const v of Object.values(lmVariables(p))) {
    const noise = Float32Array.from({ length: v.size }, () => rng.normal() * std);
    tf.tidy(() => v.assign(tf.add(v, tf.tensor(noise, v.shape))));
  }
  return p;
};

export const toRef = (p: LMParams): RefParams =>
  Object.fromEntries(
    Object.entries(lmVariables(p)).map(([k, v]) => [k, { data: Float64Array.from(v.dataSync()), shape: v.shape }]),
  );

export const randomIds = (rows: number, cols: number, vocab: number, seed: number): number[][] => {
  const rng = makeRng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.floor(rng.next() * vocab)));
};

/** max |a - b| / max |b|: error relative to the scale of the reference. */
export const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
};
