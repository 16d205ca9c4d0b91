// The method run end to end on an exact toy, with the same tfjs losses the transformers use
// (ml/nado/losses.ts, ml/finetune.ts) and the ML core's training loop (ml/train.ts).
import * as tf from "@tensorflow/tfjs";
import { guidedLogProbs, headBiasFor, nadoLoss } from "../nado/losses.ts";
import { regularisedLoss } from "../finetune.ts";
import { ops } from "../ops.ts";
import type { Rng } from "../prng.ts";
import { type TrainProgress, train } from "../train.ts";
import { type PrefixTable, prefixIndex, prefixMarginals, sampleTable } from "./chain.ts";
import { type ToyConstraint, oracle, prefixR } from "./exact.ts";
import { type ToyLM, type ToyNado, cloneToyNado, initToyNado, lmRows, nadoRows, toyLMForward, toyNadoForward } from "./models.ts";

/** Labelled samples, deduplicated: each distinct sequence once with weight ∝ count · p/q (sum 1). */
export interface ToyLabelled {
  readonly tokens: Int32Array; // (U, L)
  readonly labels: Float32Array; // (U) C(x)
  readonly weights: Float32Array; // (U) self-normalised importance weights (or count/n if unweighted)
}

/**
 * Sample n sequences from `base` at temperature T, label with C, and fold duplicates. Folding is
 * exact: the weighted loss of a distinct sequence with weight Σ w equals the sum over its copies.
 * `importance` (default true) weights by p(x)/q(x); false keeps count/n (the biased estimator).
 */
export const sampleAndLabelToy = (base: PrefixTable, c: ToyConstraint, n: number, rng: Rng, temperature = 1, importance = true): ToyLabelled => {
  const { L } = base.space;
  const s = sampleTable(base, n, rng, temperature);
  const seen = new Map<number, number>(); // sequence code -> distinct index
  const first: number[] = [];
  const w: number[] = [];
  for (let i = 0; i < n; i++) {
    const code = prefixIndex(base.space, s.tokens, L, i * L);
    const wi = importance ? Math.exp(s.logp[i] - s.logq[i]) : 1;
    const j = seen.get(code);
    if (j === undefined) { seen.set(code, first.length); first.push(i); w.push(wi); } else w[j] += wi;
  }
  const U = first.length;
  const tokens = new Int32Array(U * L);
  first.forEach((i, j) => tokens.set(s.tokens.subarray(i * L, (i + 1) * L), j * L));
  const total = w.reduce((a, b) => a + b, 0);
  return {
    tokens,
    labels: Float32Array.from({ length: U }, (_, j) => oracle(c, tokens, j * L, L)),
    weights: Float32Array.from(w, (x) => x / total),
  };
};

/** log p(v | h_t) at every position of every sequence, (U, L, V), from a prefix table. */
const tableLogProbs = (m: PrefixTable, rows: Int32Array): tf.Tensor3D => {
  const { V, L } = m.space;
  const out = new Float32Array(rows.length * V);
  for (let i = 0; i < rows.length; i++) for (let v = 0; v < V; v++) out[i * V + v] = Math.log(m.probs[rows[i] * V + v]);
  return tf.tensor3d(out, [rows.length / L, L, V]);
};

export interface ToyTrainOptions {
  steps: number;
  lr: number;
  onProgress?: (p: TrainProgress) => void;
}

/** The ML core's loop on one fixed full batch: constant lr, no weight decay (the toys are tables). */
const trainFullBatch = (variables: Record<string, tf.Variable>, loss: () => tf.Scalar, o: ToyTrainOptions) =>
  train({ variables, loss, batches: () => null, steps: o.steps, optimizer: { lr: o.lr, weightDecay: 0 }, schedule: { decay: "constant" }, onProgress: o.onProgress });

/**
 * Train a tabular NADO on labelled samples of `base` (full batch: the toy's distinct sequences),
 * loss = BCE + β·consistency with the samples' weights. `init` warm-starts (copied, not mutated);
 * otherwise zero table + bias logit(mean label).
 */
export const trainToyNado = async (base: PrefixTable, data: ToyLabelled, o: ToyTrainOptions & { beta?: number; init?: ToyNado }): Promise<ToyNado> => {
  const { L } = base.space;
  const U = data.labels.length;
  const nado = o.init ? cloneToyNado(o.init) : initToyNado(base.space, headBiasFor(data.labels, data.weights));
  const rowsArr = nadoRows(base.space, data.tokens);
  const rows = tf.tensor2d(rowsArr, [U, L], "int32");
  const batch = {
    logp: tableLogProbs(base, rowsArr),
    targets: tf.tensor2d(data.tokens, [U, L], "int32"),
    mask: tf.ones([U, L]) as tf.Tensor2D,
    labels: tf.tensor1d(data.labels),
    weights: tf.tensor1d(data.weights),
  };
  try {
    await trainFullBatch({ table: nado.table, bias: nado.bias }, () => nadoLoss({ ...batch, z: toyNadoForward(nado, rows) }, o.beta ?? 0.5).loss, o);
  } finally {
    tf.dispose([rows, ...Object.values(batch)]);
  }
  return nado;
};

/**
 * log q_t (N·L, V) for every position of `tokens`: q_t(v) ∝ p_θ̄(v|h_t) · R_φ(h_t ⊕ v), from a
 * frozen snapshot LM and NADO. Computed once, outside any gradient tape: both are fixed while θ trains.
 */
export const toyTargets = (snapshot: ToyLM, nado: ToyNado, tokens: Int32Array, alpha = 1): tf.Tensor2D =>
  tf.tidy(() => {
    const { V, L } = snapshot;
    const n = tokens.length / L;
    const lmR = tf.tensor2d(lmRows(V, L, tokens), [n, L], "int32");
    const nR = tf.tensor2d(nadoRows(nado.space, tokens), [n, L], "int32");
    return guidedLogProbs(toyLMForward(snapshot, lmR), toyNadoForward(nado, nR), alpha).reshape([n * L, V]) as tf.Tensor2D;
  });

/**
 * Fine-tune a tabular toy LM on `tokens` (N, L) with the regularised loss (λ = 0: plain
 * fine-tuning). regMask (N) selects D_reg per sequence (all ones = non-adaptive). Mutates `lm`.
 */
export const finetuneToy = async (
  lm: ToyLM, tokens: Int32Array, o: ToyTrainOptions & { lambda: number; qLogProbs?: tf.Tensor2D; regMask?: Float32Array },
): Promise<void> => {
  const { V, L } = lm;
  const n = tokens.length / L;
  const rows = tf.tensor2d(lmRows(V, L, tokens), [n, L], "int32");
  const targets = tf.tensor1d(tokens, "int32");
  const tokenMask = tf.ones([n * L]) as tf.Tensor1D;
  const reg = o.regMask ?? new Float32Array(n).fill(1);
  const regMask = tf.tensor1d(Float32Array.from({ length: n * L }, (_, i) => reg[Math.floor(i / L)]));
  try {
    await trainFullBatch({ logits: lm.logits }, () => {
      const logits = toyLMForward(lm, rows).reshape([n * L, V]) as tf.Tensor2D;
      return regularisedLoss({ logits, targets, tokenMask, regMask, qLogProbs: o.qLogProbs }, o.lambda, ops().softmaxCrossEntropy).loss;
    }, o);
  } finally {
    tf.dispose([rows, targets, tokenMask, regMask]);
  }
};

/**
 * Mean absolute error of R_φ against the exact R on the base distribution:
 * E_{x~p} (1/L) Σ_t |R_φ(x_≤t) − R(x_≤t)| = Σ_h p(h) Σ_v p(v|h) |R_φ(h⊕v) − R(h⊕v)| / L.
 */
export const nadoMAE = (base: PrefixTable, nextRPhi: Float64Array, nextR: Float64Array): number => {
  const { V, L, nPrefixes } = base.space;
  const ph = prefixMarginals(base);
  let e = 0;
  for (let h = 0; h < nPrefixes; h++) for (let v = 0; v < V; v++) e += ph[h] * base.probs[h * V + v] * Math.abs(nextRPhi[h * V + v] - nextR[h * V + v]);
  return e / L;
};

/**
 * How far R_φ is from satisfying the consistency identity, on the base distribution: for prefixes
 * g = h⊕u with |g| < L, |R_φ(g) − Σ_v p(v|g) R_φ(g⊕v)|, averaged with weight p(g).
 */
export const consistencyError = (base: PrefixTable, nextRPhi: Float64Array): number => {
  const { V, L, offsets } = base.space;
  const ph = prefixMarginals(base);
  const children = prefixR(base, nextRPhi); // Σ_v p(v|g) R_φ(g⊕v) for every prefix g
  let e = 0;
  let w = 0;
  for (let d = 0; d + 1 < L; d++)
    for (let code = 0; code < V ** d; code++)
      for (let u = 0; u < V; u++) {
        const h = offsets[d] + code;
        const g = offsets[d + 1] + code * V + u;
        const pg = ph[h] * base.probs[h * V + u];
        e += pg * Math.abs(nextRPhi[h * V + u] - children[g]);
        w += pg;
      }
  return e / w;
};
