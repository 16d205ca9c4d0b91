// A small seeded PRNG (SplitMix32-style mixing over a 32-bit state) so that parameter init,
// dropout seeds and sampling are reproducible across runs and backends. tfjs's own random ops are
// seeded too, but generating init values here makes them identical on every backend.

export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Standard normal N(0, 1) (Box–Muller). */
  normal(): number;
  /** A fresh 32-bit integer (e.g. a seed for a tfjs random op). */
  int(): number;
  /** The internal state, to save and restore a stream (resume mid-generation / training). */
  state(): number;
}

export const makeRng = (seed: number, state?: number): Rng => {
  // State advances by the golden-ratio increment; output is a murmur3-style finaliser of it.
  let s = state ?? (Math.imul(seed | 0, 0x9e3779b1) ^ 0x85ebca6b) >>> 0;
  const nextU32 = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const next = (): number => nextU32() / 4294967296;
  const normal = (): number => {
    // u1 in (0, 1] so log(u1) is finite.
    const u1 = 1 - next();
    const u2 = next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
  return { next, normal, int: nextU32, state: () => s };
};

/** Derive an independent seed from a base seed and some integers (e.g. step, layer). */
export const deriveSeed = (seed: number, ...xs: number[]): number => {
  let h = (seed | 0) ^ 0x27d4eb2d;
  for (const x of xs) {
    h = Math.imul(h ^ (x | 0), 0x165667b1);
    h = (h ^ (h >>> 15)) >>> 0;
  }
  return h >>> 0;
};

/** A uniformly random permutation of 0..n−1 (Fisher–Yates, from the last index down) drawn from `rng`. */
export const permutation = (n: number, rng: Rng): number[] => {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
};
