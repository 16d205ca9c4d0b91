// Exact toy language models: every distribution here is small enough to enumerate, so the
// method's quantities (R, q*, KL) have exact float64 answers to test the tfjs code against.
//
// A toy sequence is exactly L tokens x_1..x_L over the vocabulary {0..V-1} (no EOS: the length is
// fixed). A "prefix table" is the fully general toy LM: one next-token distribution per prefix h
// (|h| = 0..L-1), stored flat as (nPrefixes, V). A (position-dependent) Markov chain is the
// special case whose rows depend only on (|h|, last token); it is also what a tabular toy LM with
// parameters (L, V+1, V) can represent, so fine-tuning results can be read back exactly.
import type { Rng } from "../prng.ts";

/** Prefix indexing: prefixes of length d occupy [offset(d), offset(d) + V^d), in base-V order. */
export interface PrefixSpace {
  readonly V: number;
  readonly L: number;
  /** offsets[d] = Σ_{k<d} V^k, for d = 0..L (offsets[L] = number of prefixes of length < L). */
  readonly offsets: readonly number[];
  readonly nPrefixes: number;
  readonly nSequences: number;
}

export const prefixSpace = (V: number, L: number): PrefixSpace => {
  const offsets = [0];
  for (let d = 0; d < L; d++) offsets.push(offsets[d] + V ** d);
  return { V, L, offsets, nPrefixes: offsets[L], nSequences: V ** L };
};

/** Index of the prefix x[0..d) (d = its length). */
export const prefixIndex = (sp: PrefixSpace, x: ArrayLike<number>, d: number, start = 0): number => {
  let code = 0;
  for (let i = 0; i < d; i++) code = code * sp.V + x[start + i];
  return sp.offsets[d] + code;
};

/** The n-th sequence in base-V order (most significant token first), written into `out`. */
export const decodeSequence = (sp: PrefixSpace, n: number, out: Int32Array = new Int32Array(sp.L)): Int32Array => {
  for (let i = sp.L - 1; i >= 0; i--) {
    out[i] = n % sp.V;
    n = Math.floor(n / sp.V);
  }
  return out;
};

/** A toy LM given by its next-token table: probs (nPrefixes, V), row h = p(· | h). */
export interface PrefixTable {
  readonly space: PrefixSpace;
  readonly probs: Float64Array;
}

/** A position-dependent Markov chain: probs (L, V+1, V); row (t, last) = p(x_{t+1} | x_t = last), last = V (BOS) at t = 0. */
export interface ToyChain {
  readonly V: number;
  readonly L: number;
  readonly probs: Float64Array;
}

export const chainRow = (c: ToyChain, t: number, last: number): Float64Array =>
  c.probs.subarray((t * (c.V + 1) + last) * c.V, (t * (c.V + 1) + last + 1) * c.V);

/**
 * A random stationary chain (the same transition matrix at every position). Rows are
 * Dirichlet-like: weights u^(1/sharpness) normalised, u ~ U(0,1); `minProb` floors every entry so
 * that every sequence has non-zero probability (importance weights and KLs stay finite).
 */
export const randomChain = (V: number, L: number, rng: Rng, sharpness = 1, minProb = 0.02): ToyChain => {
  const rows: Float64Array[] = [];
  for (let last = 0; last <= V; last++) {
    const w = Float64Array.from({ length: V }, () => rng.next() ** (1 / sharpness));
    const s = w.reduce((a, b) => a + b, 0);
    rows.push(w.map((x) => minProb + (1 - V * minProb) * (x / s)));
  }
  const probs = new Float64Array(L * (V + 1) * V);
  for (let t = 0; t < L; t++) for (let last = 0; last <= V; last++) probs.set(rows[last], (t * (V + 1) + last) * V);
  return { V, L, probs };
};

/** A chain from logits (L, V+1, V) (e.g. a trained tabular toy LM), softmax per row in float64. */
export const chainFromLogits = (V: number, L: number, logits: ArrayLike<number>): ToyChain => {
  const probs = new Float64Array(L * (V + 1) * V);
  for (let r = 0; r < L * (V + 1); r++) {
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, logits[r * V + v]);
    let s = 0;
    for (let v = 0; v < V; v++) s += probs[r * V + v] = Math.exp(logits[r * V + v] - m);
    for (let v = 0; v < V; v++) probs[r * V + v] /= s;
  }
  return { V, L, probs };
};

/** The chain as a general prefix table (row h = the chain's row for (|h|, last(h))). */
export const chainToTable = (c: ToyChain): PrefixTable => {
  const sp = prefixSpace(c.V, c.L);
  const probs = new Float64Array(sp.nPrefixes * c.V);
  for (let d = 0; d < c.L; d++)
    for (let code = 0; code < c.V ** d; code++) {
      const last = d === 0 ? c.V : code % c.V;
      probs.set(chainRow(c, d, last), (sp.offsets[d] + code) * c.V);
    }
  return { space: sp, probs };
};

/** p(x) for every sequence, in base-V order: Float64Array(V^L). */
export const jointOf = (m: PrefixTable): Float64Array => {
  const { V, L, offsets } = m.space;
  // Breadth-first: prob of each prefix of length d+1 = prob(prefix) * p(v | prefix).
  let level = Float64Array.of(1);
  for (let d = 0; d < L; d++) {
    const next = new Float64Array(level.length * V);
    for (let code = 0; code < level.length; code++)
      for (let v = 0; v < V; v++) next[code * V + v] = level[code] * m.probs[(offsets[d] + code) * V + v];
    level = next;
  }
  return level;
};

/** Marginal probability of every prefix (nPrefixes) under m: weights for prefix-level averages. */
export const prefixMarginals = (m: PrefixTable): Float64Array => {
  const { V, L, offsets, nPrefixes } = m.space;
  const out = new Float64Array(nPrefixes);
  out[0] = 1;
  for (let d = 0; d + 1 < L; d++)
    for (let code = 0; code < V ** d; code++)
      for (let v = 0; v < V; v++)
        out[offsets[d + 1] + code * V + v] = out[offsets[d] + code] * m.probs[(offsets[d] + code) * V + v];
  return out;
};

export interface ToySamples {
  /** (n, L) token ids, row-major. */
  readonly tokens: Int32Array;
  /** log p(x) under the table sampled from at temperature 1. */
  readonly logp: Float64Array;
  /** log q(x) under the distribution actually sampled (per-token temperature T). */
  readonly logq: Float64Array;
}

/**
 * n ancestral samples from a prefix table at temperature T (q(v|h) ∝ p(v|h)^(1/T), per token,
 * as an LM sampler does). Returns both log p and log q so importance weights p/q can be formed.
 */
export const sampleTable = (m: PrefixTable, n: number, rng: Rng, temperature = 1): ToySamples => {
  const { V, L } = m.space;
  const tokens = new Int32Array(n * L);
  const logp = new Float64Array(n);
  const logq = new Float64Array(n);
  const q = new Float64Array(V);
  for (let i = 0; i < n; i++) {
    let row = 0; // prefix index of the empty prefix
    for (let t = 0; t < L; t++) {
      const p = m.probs.subarray(row * V, (row + 1) * V);
      let s = 0;
      for (let v = 0; v < V; v++) s += q[v] = p[v] ** (1 / temperature);
      let u = rng.next() * s;
      let v = 0;
      while (v < V - 1 && (u -= q[v]) >= 0) v++;
      tokens[i * L + t] = v;
      logp[i] += Math.log(p[v]);
      logq[i] += Math.log(q[v] / s);
      // child prefix index: offset(t+1) + code*V + v, with code = row - offset(t)
      row = m.space.offsets[t + 1] + (row - m.space.offsets[t]) * V + v;
    }
  }
  return { tokens, logp, logq };
};

/** Total variation between two distributions over the same outcomes. */
export const totalVariation = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / 2;
};

/** Empirical distribution over sequences (base-V order) of (n, L) samples. */
export const empiricalJoint = (sp: PrefixSpace, tokens: Int32Array): Float64Array => {
  const out = new Float64Array(sp.nSequences);
  const n = tokens.length / sp.L;
  for (let i = 0; i < n; i++) out[prefixIndex(sp, tokens, sp.L, i * sp.L) - sp.offsets[sp.L]] += 1 / n;
  return out;
};
