// Choosing the next token from a row of logits, in plain JS (V is small; per-step logits are read
// back once per decoding step anyway). Temperature, top-k (Fan et al. 2018), nucleus / top-p
// (Holtzman et al. 2020). temperature 0 = greedy (argmax, ties -> lowest id).
import type { Rng } from "./prng.ts";

export interface SamplingOptions {
  /** 0 = greedy; default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0/undefined = all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1/undefined = all). */
  topP?: number;
}

export const argmax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
};

const softmax = (row: ArrayLike<number>, t: number): Float64Array => {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const p = new Float64Array(row.length);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += p[i] = Math.exp((row[i] - max) / t);
  for (let i = 0; i < row.length; i++) p[i] /= z;
  return p;
};

/** The probability distribution actually sampled from, after temperature, top-k and top-p. */
export const filteredProbs = (row: ArrayLike<number>, o: SamplingOptions): Float64Array => {
  const V = row.length;
  const t = o.temperature ?? 1;
  if (!(o.topK && o.topK > 0) && (o.topP ?? 1) >= 1) return softmax(row, t); // no sort needed
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, V) : V;
  const max = row[order[0]];
  const p = new Float64Array(V);
  let z = 0;
  for (let r = 0; r < k; r++) z += p[order[r]] = Math.exp((row[order[r]] - max) / t);
  const topP = o.topP ?? 1;
  let cum = 0;
  let kept = 0;
  for (let r = 0; r < k; r++) {
    const i = order[r];
    if (cum >= topP * z && kept > 0) p[i] = 0; // the nucleus is complete
    else { cum += p[i]; kept++; }
  }
  let s = 0;
  for (let i = 0; i < V; i++) s += p[i];
  for (let i = 0; i < V; i++) p[i] /= s;
  return p;
};

/** Draw the next token id from a logits row. */
export const sampleToken = (row: ArrayLike<number>, o: SamplingOptions, rng: Rng): number => {
  if ((o.temperature ?? 1) === 0) return argmax(row);
  const p = filteredProbs(row, o);
  let u = rng.next();
  for (let i = 0; i < p.length; i++) {
    u -= p[i];
    if (u < 0) return i;
  }
  // rounding left u >= 0: return the last token with mass
  for (let i = p.length - 1; i >= 0; i--) if (p[i] > 0) return i;
  return 0;
};
