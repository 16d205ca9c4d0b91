// The NADO auxiliary model R_φ (METHOD.md §2) as a transformer, its training on labelled samples, and
// the guided distribution q(v|h) ∝ p(v|h) · R_φ(h ⊕ v)^α for sampling and scoring. The losses and q
// itself are ml/nado/losses.ts (the method's, proven on exact toys); this file gives them a model.
//
//   z = head(body(embed(ids)))            ids (B, T) -> z (B, T, V),  R_φ(h_t ⊕ v) = σ(z[b, t, v])
//   head: W (C, V) = 0, b (V) = logit(mean label)  so that at initialisation R is constant and q = p.
// Inputs are the token ids only (the paper's default; the base model's hidden states are not fed).
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { CheckpointError } from "./errors.ts";
import { assignVariables, disposeParams, embed, initLM, lmForward, lmVariables, transformerBody, validateConfig, type LMConfig, type LMParams } from "./lm.ts";
import { guidedLogProbs, headBiasFor, importanceWeights, nadoLoss, pickLast } from "./nado/losses.ts";
import { deriveSeed, makeRng } from "./prng.ts";
import { train, type TrainProgress } from "./train.ts";

export interface NadoModel {
  readonly config: LMConfig;
  readonly params: LMParams; // embeddings + body (wte is not tied to the head)
  readonly headW: tf.Variable; // (C, V)
  readonly headB: tf.Variable; // (V)
}

export const nadoVariables = (m: NadoModel): Record<string, tf.Variable> => ({ ...lmVariables(m.params), headW: m.headW, headB: m.headB });
export const disposeNado = (m: NadoModel): void => disposeParams(nadoVariables(m));

let instance = 0;
export const initNado = (config: LMConfig, seed: number, headBias: number): NadoModel => {
  const c = validateConfig(config);
  const n = instance++;
  return {
    config: c,
    params: initLM(c, seed),
    headW: tf.variable(tf.zeros([c.dModel, c.vocabSize]), true, `nado${n}/headW`),
    headB: tf.variable(tf.fill([c.vocabSize], headBias), true, `nado${n}/headB`),
  };
};

/** NADO logits. ids (B, T) int32 -> z (B, T, V). Call inside tf.tidy. */
export const nadoForward = (m: NadoModel, ids: tf.Tensor2D): tf.Tensor3D => {
  const [B, T] = ids.shape;
  const { hidden } = transformerBody(m.params, m.config, embed(m.params, m.config, ids));
  return tf.add(tf.matMul(hidden.reshape([B * T, m.config.dModel]), m.headW), m.headB).reshape([B, T, m.config.vocabSize]) as tf.Tensor3D;
};

export const saveNado = (dir: string, m: NadoModel): Promise<void> =>
  saveCheckpoint(dir, { config: m.config, params: nadoVariables(m), meta: { kind: "nado" } });

export const loadNado = async (dir: string): Promise<NadoModel> => {
  const d = await loadCheckpoint(dir);
  try {
    if (d.meta?.kind !== "nado") throw new CheckpointError({ path: dir, message: `${dir} is not a NADO checkpoint (meta.kind = ${JSON.stringify(d.meta?.kind)})` });
    const m = initNado(validateConfig(d.config), 0, 0);
    assignVariables(nadoVariables(m), d.params);
    return m;
  } finally {
    tf.dispose(Object.values(d.params));
  }
};

/** One labelled sample: the prompt's ids (with BOS) and the sampled continuation's ids. */
export interface LabelledSample { readonly prompt: readonly number[]; readonly continuation: readonly number[]; readonly label: number }

export interface NadoTrainOptions {
  readonly steps: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly warmup: number;
  readonly weightDecay: number;
  readonly clipNorm: number;
  /** β of the consistency regulariser. */
  readonly beta: number;
  /** Sampling temperature of the samples: ≠ 1 → self-normalised weights p(x)/q_T(x) (METHOD.md §2). */
  readonly temperature: number;
  readonly seed: number;
  readonly onProgress?: (p: TrainProgress) => void;
}

/** Right-padded (B, T) ids with targets[t] = ids[t+1] and mask[t] = 1 where ids[t+1] is a continuation token. */
const nadoBatch = (samples: readonly LabelledSample[], idx: readonly number[], contextLength: number, pad: number) => {
  const seqs = idx.map((i) => {
    const s = samples[i];
    const all = [...s.prompt, ...s.continuation];
    const cut = Math.max(0, all.length - (contextLength + 1)); // keep the end: the continuation
    return { ids: all.slice(cut), contFrom: Math.max(1, s.prompt.length - cut), label: s.label };
  });
  const T = Math.max(1, ...seqs.map((s) => s.ids.length - 1));
  const ids = new Int32Array(idx.length * (T + 1)).fill(pad);
  const mask = new Float32Array(idx.length * T);
  seqs.forEach((s, b) => {
    ids.set(s.ids, b * (T + 1));
    for (let t = s.contFrom - 1; t < s.ids.length - 1; t++) mask[b * T + t] = 1;
  });
  return { B: idx.length, T, ids, mask, labels: Float32Array.from(seqs.map((s) => s.label)) };
};

/**
 * Train φ (in place) on samples of `base` (frozen): nadoLoss = per-prefix BCE + β · consistency, with
 * the base's log-probs over the same prefixes. Batches: `batchSize` samples drawn from (seed, step).
 */
export const trainNado = async (nado: NadoModel, base: { params: LMParams; config: LMConfig }, samples: readonly LabelledSample[], pad: number, o: NadoTrainOptions): Promise<void> => {
  if (samples.length === 0) throw new CheckpointError({ path: "", message: "trainNado: no samples" });
  const ctx = Math.min(nado.config.contextLength, base.config.contextLength);
  await train({
    variables: nadoVariables(nado),
    batches: (step) => {
      const rng = makeRng(deriveSeed(o.seed, step));
      return nadoBatch(samples, Array.from({ length: o.batchSize }, () => Math.floor(rng.next() * samples.length)), ctx, pad);
    },
    loss: (b) => {
      const all = tf.tensor2d(b.ids, [b.B, b.T + 1], "int32");
      const ids = all.slice([0, 0], [b.B, b.T]) as tf.Tensor2D;
      const targets = all.slice([0, 1], [b.B, b.T]) as tf.Tensor2D;
      const mask = tf.tensor2d(b.mask, [b.B, b.T]);
      const baseLogits = lmForward(base.params, base.config, ids).logits;
      const logp = tf.logSoftmax(baseLogits) as tf.Tensor3D;
      let weights: tf.Tensor1D | undefined;
      if (o.temperature !== 1) {
        // log p(x) and log q_T(x) of each sampled continuation under the base: weights ∝ p/q_T.
        const lq = tf.logSoftmax(tf.div(baseLogits, o.temperature)) as tf.Tensor3D;
        weights = importanceWeights(tf.sum(tf.mul(pickLast(logp, targets), mask), 1) as tf.Tensor1D, tf.sum(tf.mul(pickLast(lq, targets), mask), 1) as tf.Tensor1D);
      }
      return nadoLoss({ z: nadoForward(nado, ids), logp, targets, mask, labels: tf.tensor1d(b.labels), weights }, o.beta).loss;
    },
    steps: o.steps,
    optimizer: { lr: o.lr, weightDecay: o.weightDecay },
    schedule: { warmup: Math.min(o.warmup, Math.floor(o.steps / 2)), decay: "cosine" },
    clipNorm: o.clipNorm,
    seed: o.seed,
    onProgress: o.onProgress,
  });
};

/** A fresh NADO model for `base`'s vocabulary with `nLayers` blocks, head bias = logit(mean label). */
export const nadoFor = (base: LMConfig, nLayers: number, labels: readonly number[], seed: number): NadoModel =>
  initNado({ ...base, nLayers }, seed, headBiasFor(labels));

/**
 * Log q over the vocabulary at every position: base logits and NADO z on the same ids (B, T) ->
 * (B, T, V) log-probs of q ∝ p · R^α. Call inside tf.tidy.
 */
export const guidedForward = (base: { params: LMParams; config: LMConfig }, nado: NadoModel, ids: tf.Tensor2D, alpha: number): tf.Tensor3D =>
  guidedLogProbs(lmForward(base.params, base.config, ids).logits, nadoForward(nado, ids), alpha) as tf.Tensor3D;

/**
 * generate()'s logitsProcessor for NADO-guided decoding: the rows so far (unpadded, varying lengths)
 * are right-padded into one NADO forward (causal, so padding after a row's end cannot reach it), and
 * each row's last-position z turns the base logits into log q.
 */
export const guidedLogitsProcessor = (nado: NadoModel, alpha: number, pad: number) =>
  (rows: number[][], logits: tf.Tensor2D): tf.Tensor2D => {
    const ctx = nado.config.contextLength;
    const cut = rows.map((r) => r.slice(Math.max(0, r.length - ctx)));
    const L = Math.max(...cut.map((r) => r.length));
    const ids = tf.tensor2d(cut.map((r) => [...r, ...new Array<number>(L - r.length).fill(pad)]), [rows.length, L], "int32");
    const last = tf.tensor2d(cut.map((r) => Array.from({ length: L }, (_, t) => (t === r.length - 1 ? 1 : 0))), [rows.length, L]);
    const z = tf.sum(tf.mul(nadoForward(nado, ids), last.expandDims(2)), 1) as tf.Tensor2D; // (B, V) at each row's end
    return guidedLogProbs(logits, z, alpha) as tf.Tensor2D;
  };

/**
 * Per-token log q of sequences: for each seq (≤ contextLength + 1 tokens) the log-probabilities under
 * q of seq[1..] and whether each is q's argmax (greedy decoding would pick it), in batches of
 * `batchSize` right-padded rows (padding only follows scored tokens).
 */
export const guidedTokenLogProbs = (
  base: { params: LMParams; config: LMConfig }, nado: NadoModel, alpha: number, seqs: readonly (readonly number[])[], batchSize = 16,
): { lp: number[]; greedy: boolean[] }[] => {
  const out: { lp: number[]; greedy: boolean[] }[] = [];
  for (let s = 0; s < seqs.length; s += batchSize) {
    const chunk = seqs.slice(s, s + batchSize);
    const T = Math.max(1, ...chunk.map((q) => q.length - 1));
    const [lp, hit] = tf.tidy(() => {
      const all = tf.tensor2d(chunk.map((q) => [...q, ...new Array<number>(T + 1 - q.length).fill(0)]), [chunk.length, T + 1], "int32");
      const ids = all.slice([0, 0], [chunk.length, T]) as tf.Tensor2D;
      const targets = all.slice([0, 1], [chunk.length, T]) as tf.Tensor2D;
      const lq = guidedForward(base, nado, ids, alpha);
      return [pickLast(lq, targets).arraySync() as number[][], tf.equal(tf.argMax(lq, -1), targets).arraySync() as number[][]];
    });
    chunk.forEach((q, b) => out.push({ lp: lp[b].slice(0, q.length - 1), greedy: hit[b].slice(0, q.length - 1).map((h) => h === 1) }));
  }
  return out;
};
