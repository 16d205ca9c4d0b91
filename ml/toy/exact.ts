// Exact answers on the toys, in float64: the constraint oracle as a finite automaton, the
// success probability R by dynamic programming, the projection q* = p·C/Z, and KLs.
//
//   R(h) = Pr_{x ~ p(·|h)}[C(x) = 1],  R(x) = C(x) for |x| = L,  R(h) = Σ_v p(v|h) R(h ⊕ v)
//   q*(v | h) = p(v|h) R(h ⊕ v) / R(h)                          (docs/method.md §1)
import { type PrefixSpace, type PrefixTable, decodeSequence, jointOf } from "./chain.ts";

/**
 * A sequence-level oracle computed by a deterministic automaton: C(x) = value(state after x).
 * `value` in [0, 1] (a hard constraint has values 0/1; a soft one anything between).
 */
export interface ToyConstraint {
  readonly name: string;
  readonly nStates: number;
  readonly start: number;
  step(state: number, token: number): number;
  value(state: number): number;
}

/** "token `x` never appears": state 0 = clean, 1 = violated (absorbing). */
export const neverToken = (x: number): ToyConstraint => ({
  name: `never(${x})`,
  nStates: 2,
  start: 0,
  step: (s, v) => (s === 1 || v === x ? 1 : 0),
  value: (s) => (s === 0 ? 1 : 0),
});

/** "token `y` appears an even number of times": state = parity. */
export const evenCount = (y: number): ToyConstraint => ({
  name: `even(${y})`,
  nStates: 2,
  start: 0,
  step: (s, v) => (v === y ? 1 - s : s),
  value: (s) => (s === 0 ? 1 : 0),
});

/** C(x) for one sequence. */
export const oracle = (c: ToyConstraint, x: ArrayLike<number>, start = 0, L = x.length): number => {
  let s = c.start;
  for (let i = 0; i < L; i++) s = c.step(s, x[start + i]);
  return c.value(s);
};

/** C for every sequence in base-V order: Float64Array(V^L). */
export const oracleTable = (sp: PrefixSpace, c: ToyConstraint): Float64Array => {
  const out = new Float64Array(sp.nSequences);
  const x = new Int32Array(sp.L);
  for (let n = 0; n < sp.nSequences; n++) out[n] = oracle(c, decodeSequence(sp, n, x));
  return out;
};

/**
 * Exact R(h ⊕ v) for every prefix h (|h| < L) and token v: (nPrefixes, V), the target a perfect
 * NADO model outputs. Computed bottom-up over the prefix tree (sequences first, R = C there),
 * which is the DP R(h) = Σ_v p(v|h) R(h⊕v) on the tree; it works for any prefix table.
 */
export const exactNextR = (m: PrefixTable, c: ToyConstraint): Float64Array => {
  const { V, L, offsets, nPrefixes } = m.space;
  const out = new Float64Array(nPrefixes * V);
  // childR[code'] = R of each prefix of length d+1 (code' in base V); start with d+1 = L: R = C.
  let childR = oracleTable(m.space, c);
  for (let d = L - 1; d >= 0; d--) {
    const parentR = new Float64Array(V ** d);
    for (let code = 0; code < V ** d; code++) {
      const row = offsets[d] + code;
      let r = 0;
      for (let v = 0; v < V; v++) {
        const rv = childR[code * V + v];
        out[row * V + v] = rv;
        r += m.probs[row * V + v] * rv;
      }
      parentR[code] = r;
    }
    childR = parentR;
  }
  return out;
};

/** R(h) for every prefix (nPrefixes), from the (nPrefixes, V) table of R(h⊕v): R(h) = Σ_v p(v|h) R(h⊕v). */
export const prefixR = (m: PrefixTable, nextR: Float64Array): Float64Array => {
  const { V, nPrefixes } = m.space;
  const out = new Float64Array(nPrefixes);
  for (let h = 0; h < nPrefixes; h++) {
    let r = 0;
    for (let v = 0; v < V; v++) r += m.probs[h * V + v] * nextR[h * V + v];
    out[h] = r;
  }
  return out;
};

/**
 * The guided toy LM q(v|h) ∝ p(v|h) R(h⊕v)^α (docs/method.md §2; α = 1 is the paper). With the exact
 * R and α = 1 this is q*. A prefix whose every continuation has R = 0 keeps p (it is unreachable
 * under q anyway).
 */
export const guidedTable = (m: PrefixTable, nextR: Float64Array, alpha = 1): PrefixTable => {
  const { V, nPrefixes } = m.space;
  const probs = new Float64Array(nPrefixes * V);
  for (let h = 0; h < nPrefixes; h++) {
    let z = 0;
    for (let v = 0; v < V; v++) z += probs[h * V + v] = m.probs[h * V + v] * nextR[h * V + v] ** alpha;
    for (let v = 0; v < V; v++) probs[h * V + v] = z > 0 ? probs[h * V + v] / z : m.probs[h * V + v];
  }
  return { space: m.space, probs };
};

/** q*(x) = p(x) C(x) / Z over all sequences (the projection of p onto the constraint). */
export const constrainedJoint = (m: PrefixTable, c: ToyConstraint): Float64Array => {
  const p = jointOf(m);
  const cx = oracleTable(m.space, c);
  let z = 0;
  for (let i = 0; i < p.length; i++) z += p[i] *= cx[i];
  return p.map((x) => x / z);
};

/** Pr_{x~m}[C(x)] — the satisfaction rate (expected C for a soft oracle). */
export const satisfaction = (m: PrefixTable, c: ToyConstraint): number => {
  const p = jointOf(m);
  const cx = oracleTable(m.space, c);
  let s = 0;
  for (let i = 0; i < p.length; i++) s += p[i] * cx[i];
  return s;
};

/** Brute-force KL(a ‖ b) = Σ_x a(x) log(a(x)/b(x)) over enumerated outcomes (0 log 0 = 0). */
export const klEnumerated = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > 0) s += a[i] * Math.log(a[i] / b[i]);
  return s;
};

/**
 * Per-prefix closed-form KL(q(·|h) ‖ p(·|h)) = Σ_v q(v|h) log(q(v|h)/p(v|h)), (nPrefixes), float64.
 * By the chain rule Σ_h q(h) KL_h = KL(q(x) ‖ p(x)): the test ties the per-token regulariser to
 * the sequence-level KL it stands for.
 */
export const klPerPrefix = (q: PrefixTable, p: PrefixTable): Float64Array => {
  const { V, nPrefixes } = q.space;
  const out = new Float64Array(nPrefixes);
  for (let h = 0; h < nPrefixes; h++) {
    let s = 0;
    for (let v = 0; v < V; v++) {
      const a = q.probs[h * V + v];
      if (a > 0) s += a * Math.log(a / p.probs[h * V + v]);
    }
    out[h] = s;
  }
  return out;
};

