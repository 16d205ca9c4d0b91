// Trainable tabular toy models (tfjs variables), exact-readable in float64 via ml/toy/chain.ts.
//   ToyLM:   logits (L, V+1, V) indexed by (position, last token) — a position-dependent Markov LM.
//   ToyNado: z = table[prefix] + bias, table (nPrefixes, V) — a NADO model with no inductive bias
//            at all (one free logit per (h, v)); like the transformer's head it starts at zero
//            weights with bias logit(mean label), so q = p at initialisation (docs/method.md §2).
import * as tf from "@tensorflow/tfjs";
import { type PrefixSpace, type PrefixTable, type ToyChain, chainFromLogits, chainToTable, prefixIndex } from "./chain.ts";

export interface ToyLM {
  readonly V: number;
  readonly L: number;
  readonly logits: tf.Variable; // (L*(V+1), V)
}

export const toyLMFromChain = (c: ToyChain, name = "toy_lm"): ToyLM => ({
  V: c.V,
  L: c.L,
  logits: tf.tidy(() => tf.variable(tf.tensor2d(Array.from(c.probs, Math.log), [c.L * (c.V + 1), c.V]), true, `${name}_${nextId()}`)),
});

let counter = 0;

/**
 * tf.gather over rows of a table with a scatter-add gradient done in plain JS. Reason: the
 * gradient of tf.gather is UnsortedSegmentSum, which the cpu backend runs as one masked reduction
 * per table row (minutes for a 9k-row toy table); a single O(N·V) pass is all it needs.
 * table (R, V), rows (N) int32 -> (N, V).
 */
export const gatherRows = (table: tf.Tensor2D, rows: tf.Tensor1D): tf.Tensor2D =>
  tf.customGrad(((tab: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    const value = tf.gather(tab, rows);
    const r = rows.dataSync().slice(); // rows may be disposed before the backward pass
    const gradFunc = (dy: tf.Tensor) => {
      const [R, V] = tab.shape;
      const g = new Float32Array(R * V);
      const d = dy.dataSync();
      for (let i = 0; i < r.length; i++) for (let v = 0; v < V; v++) g[r[i] * V + v] += d[i * V + v];
      return tf.tensor2d(g, [R, V]);
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0])(table) as tf.Tensor2D;
const nextId = () => counter++;

/** Row of the (position, last) table read at each position of each sequence: (n, L) int32 values. */
export const lmRows = (V: number, L: number, tokens: Int32Array): Int32Array => {
  const n = tokens.length / L;
  const rows = new Int32Array(n * L);
  for (let i = 0; i < n; i++)
    for (let t = 0; t < L; t++) rows[i * L + t] = t * (V + 1) + (t === 0 ? V : tokens[i * L + t - 1]);
  return rows;
};

/** Logits (n, L, V) of p(· | x_<t+1) at every position; rows from `lmRows`. */
export const toyLMForward = (m: ToyLM, rows: tf.Tensor2D): tf.Tensor3D =>
  tf.tidy(() => gatherRows(m.logits as tf.Tensor2D, rows.flatten()).reshape([rows.shape[0], rows.shape[1], m.V]) as tf.Tensor3D);

/** The LM's current distribution as an exact chain / prefix table (reads the variable). */
export const toyLMChain = (m: ToyLM): ToyChain => chainFromLogits(m.V, m.L, m.logits.dataSync());
export const toyLMTable = (m: ToyLM): PrefixTable => chainToTable(toyLMChain(m));

export interface ToyNado {
  readonly space: PrefixSpace;
  readonly table: tf.Variable; // (nPrefixes, V)
  readonly bias: tf.Variable; // scalar
}

export const initToyNado = (space: PrefixSpace, bias: number): ToyNado => ({
  space,
  table: tf.tidy(() => tf.variable(tf.zeros([space.nPrefixes, space.V]), true, `toy_nado_table_${nextId()}`)),
  bias: tf.tidy(() => tf.variable(tf.scalar(bias), true, `toy_nado_bias_${nextId()}`)),
});

/** A copy with its own variables (warm start / snapshot). */
export const cloneToyNado = (m: ToyNado): ToyNado => ({
  space: m.space,
  table: tf.tidy(() => tf.variable(m.table.clone(), true, `toy_nado_table_${nextId()}`)),
  bias: tf.tidy(() => tf.variable(m.bias.clone(), true, `toy_nado_bias_${nextId()}`)),
});

export const disposeToyNado = (m: ToyNado): void => {
  m.table.dispose();
  m.bias.dispose();
};

/** Prefix index of h_t = x_1..x_t at each position t = 0..L-1: (n, L) int32 values. */
export const nadoRows = (sp: PrefixSpace, tokens: Int32Array): Int32Array => {
  const n = tokens.length / sp.L;
  const rows = new Int32Array(n * sp.L);
  for (let i = 0; i < n; i++) for (let t = 0; t < sp.L; t++) rows[i * sp.L + t] = prefixIndex(sp, tokens, t, i * sp.L);
  return rows;
};

/** NADO logits z (n, L, V): σ(z[i, t, v]) = R_φ(h_t ⊕ v). */
export const toyNadoForward = (m: ToyNado, rows: tf.Tensor2D): tf.Tensor3D =>
  tf.tidy(
    () =>
      tf.add(gatherRows(m.table as tf.Tensor2D, rows.flatten()), m.bias).reshape([rows.shape[0], rows.shape[1], m.space.V]) as tf.Tensor3D,
  );

/** R_φ(h ⊕ v) for every prefix (nPrefixes, V), float64. */
export const toyNadoNextR = (m: ToyNado): Float64Array => {
  const t = m.table.dataSync();
  const b = m.bias.dataSync()[0];
  return Float64Array.from(t, (z) => 1 / (1 + Math.exp(-(z + b))));
};
