// The toxicity oracle (docs/method.md §1): a logistic-regression classifier on hashed word + character
// n-gram features (ml/textFeatures.ts), trained with tfjs through the generic training loop.
//
//   tox(x) = σ( w · φ(x) + b ),   φ(x) ∈ R^D sparse, ‖φ(x)‖₂ = 1
//   loss   = mean_i BCE(tox(x_i), y_i)      y ∈ [0, 1]: hard labels or annotator scores
//            (+ decoupled weight decay on w through AdamW)
//
// Why this model: it scores thousands of short continuations in milliseconds (inference is a sparse
// dot product in plain TypeScript, no tensors), char n-grams make it robust on 1–5 word snippets, and
// on the synthetic world it separates toxic from benign almost perfectly (see docs/evals.md).
// The constraint oracle of the method is C(x) = 1[tox(x) < τ] (hard) or 1 − tox(x) (soft).
//
// Training: sparse rows are padded to the longest row of the mini-batch, idx (B, L) / val (B, L) with
// val = 0 on padding, so logits = Σ_l w[idx[b, l]] · val[b, l] + b (`sparseDot`, with a scatter-add
// gradient that is O(B·L) on every backend).

import { Data } from "effect";
import * as tf from "@tensorflow/tfjs";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rocAuc } from "./metrics.ts";
import { makeRng } from "./prng.ts";
import { DEFAULT_FEATURES, featurize, type FeatureConfig, type SparseVec } from "./textFeatures.ts";
import { train, type TrainProgress } from "./train.ts";

export const CLASSIFIER_MAGIC = "acft-toxicity-classifier";
export const CLASSIFIER_VERSION = 1;

/** Bad training input or an unreadable saved classifier; the message says what and where. */
export class ClassifierError extends Data.TaggedError("ClassifierError")<{ readonly where: string; readonly detail: string; readonly message: string }> {}
const classifierError = (where: string, detail: string) => new ClassifierError({ where, detail, message: `toxicity classifier (${where}): ${detail}` });

export type ConstraintMode = "hard" | "soft";

/** C(x) from tox(x): hard 1[tox < τ] or soft 1 − tox (docs/method.md §1; default hard, τ = 0.5). */
export function constraintFromToxicity(tox: readonly number[], mode: ConstraintMode = "hard", threshold = 0.5): number[] {
  return tox.map((t) => (mode === "hard" ? (t < threshold ? 1 : 0) : 1 - t));
}

export interface ClassifierOptions {
  readonly features?: FeatureConfig;
  /** Passes over the training split (default 6). */
  readonly epochs?: number;
  readonly batchSize?: number; // default 64
  readonly lr?: number; // default 0.05
  readonly weightDecay?: number; // default 1e-4 (AdamW, on w only)
  /** Fraction held out for the reported ROC-AUC (default 0.1; at least one of each class). */
  readonly heldOutFraction?: number;
  readonly seed?: number;
  readonly onProgress?: (p: TrainProgress) => void;
}

export interface TrainedClassifierInfo {
  readonly heldOutAuc: number;
  readonly trainSize: number;
  readonly heldOutSize: number;
}

/** A trained oracle: `toxicity(texts)` in [0, 1], saveable to / loadable from a directory. */
export class ToxicityClassifier {
  constructor(
    readonly features: FeatureConfig,
    /** (D) weights, float32. */
    readonly weights: Float32Array,
    readonly bias: number,
    readonly info: TrainedClassifierInfo,
  ) {}

  /** σ(w·φ(x) + b) per text. Pure TS: no tensors, safe to call from anywhere. */
  toxicity(texts: readonly string[]): number[] {
    return texts.map((t) => {
      const { idx, val } = featurize(t, this.features);
      let z = this.bias;
      for (let i = 0; i < idx.length; i++) z += this.weights[idx[i]] * val[i];
      return 1 / (1 + Math.exp(-z));
    });
  }

  /** C(x) of each text (hard or soft). */
  constraint(texts: readonly string[], mode: ConstraintMode = "hard", threshold = 0.5): number[] {
    return constraintFromToxicity(this.toxicity(texts), mode, threshold);
  }

  /** Writes classifier.json (header, config, metrics) and weights.bin (float32 little-endian). */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const bytes = Buffer.from(this.weights.buffer, this.weights.byteOffset, this.weights.byteLength);
    writeFileSync(join(dir, "weights.bin"), bytes);
    const header = { magic: CLASSIFIER_MAGIC, version: CLASSIFIER_VERSION, features: this.features, bias: this.bias, dims: this.weights.length, info: this.info };
    writeFileSync(join(dir, "classifier.json"), JSON.stringify(header, null, 2) + "\n");
  }

  static load(dir: string): ToxicityClassifier {
    const path = join(dir, "classifier.json");
    let h: { magic?: unknown; version?: unknown; features: FeatureConfig; bias: number; dims: number; info: TrainedClassifierInfo };
    try {
      h = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw classifierError(path, `cannot read the header (${(e as Error).message}); train the oracle again or point to its directory`);
    }
    if (h.magic !== CLASSIFIER_MAGIC)
      throw classifierError(path, `not a toxicity classifier (magic ${JSON.stringify(h.magic)}, expected "${CLASSIFIER_MAGIC}")`);
    if (h.version !== CLASSIFIER_VERSION)
      throw classifierError(path, `format version ${String(h.version)}; this build reads version ${CLASSIFIER_VERSION}: retrain the oracle`);
    const buf = readFileSync(join(dir, "weights.bin"));
    if (buf.byteLength !== 4 * h.dims || h.dims !== 2 ** h.features.log2Dims)
      throw classifierError(join(dir, "weights.bin"), `holds ${buf.byteLength} bytes; the header says ${h.dims} float32 weights: the directory is corrupt, retrain`);
    const w = new Float32Array(h.dims);
    new Uint8Array(w.buffer).set(buf);
    return new ToxicityClassifier(h.features, w, h.bias, h.info);
  }
}

interface Rows {
  readonly x: readonly SparseVec[];
  readonly y: readonly number[];
}

/** Seeded split: each class contributes ⌈fraction·n_class⌉ (≥ 1) held-out rows (labels ≥ 0.5 count as class 1). */
export function heldOutSplit(y: readonly number[], fraction: number, seed: number): { train: number[]; held: number[] } {
  const rng = makeRng(seed);
  const train: number[] = [];
  const held: number[] = [];
  for (const cls of [0, 1]) {
    const ids = y.flatMap((v, i) => ((v >= 0.5 ? 1 : 0) === cls ? [i] : []));
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    const k = Math.max(1, Math.ceil(fraction * ids.length));
    held.push(...ids.slice(0, k));
    train.push(...ids.slice(k));
  }
  return { train, held };
}

/** A padded mini-batch: idx (B, L) int32, val (B, L), y (B). */
function makeBatch(rows: Rows, order: readonly number[]): { idx: tf.Tensor2D; val: tf.Tensor2D; y: tf.Tensor1D } {
  const L = Math.max(1, ...order.map((i) => rows.x[i].idx.length));
  const idx = new Int32Array(order.length * L);
  const val = new Float32Array(order.length * L);
  order.forEach((i, b) => {
    idx.set(rows.x[i].idx, b * L);
    val.set(rows.x[i].val, b * L);
  });
  return {
    idx: tf.tensor2d(idx, [order.length, L], "int32"),
    val: tf.tensor2d(val, [order.length, L]),
    y: tf.tensor1d(order.map((i) => rows.y[i])),
  };
}

/**
 * Sparse logits Σ_l w[idx[b,l]] · val[b,l] → (B), with a hand-written gradient
 * ∂/∂w = scatter-add of dy[b]·val[b,l] at idx[b,l] (tf.scatterND sums duplicate indices).
 * The stock gradient of tf.gather goes through UnsortedSegmentSum, which the cpu backend implements
 * as one masked reduction per segment — O(D·B·L), seconds per step at D = 2^16.
 */
export const sparseDot = (w: tf.Tensor1D, idx: tf.Tensor2D, val: tf.Tensor2D): tf.Tensor1D =>
  tf.customGrad(((wIn: tf.Tensor1D, idxIn: tf.Tensor2D, valIn: tf.Tensor2D, save: (ts: tf.Tensor[]) => void) => {
    // Inputs the backward pass reads must be saved: the caller's tidy disposes them before backprop.
    save([wIn, idxIn, valIn]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [ws, is, vs] = saved as [tf.Tensor1D, tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy.reshape([-1, 1]); // (B, 1)
      const dw = tf.scatterND(is.reshape([-1, 1]), tf.mul(dy2, vs).reshape([-1]), [ws.shape[0]]);
      return [dw, tf.zerosLike(is), tf.mul(dy2, tf.gather(ws, is))];
    };
    return { value: tf.sum(tf.mul(tf.gather(wIn, idxIn), valIn), 1), gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0])(w, idx, val) as tf.Tensor1D;

/** Trains the oracle on labelled texts (labels 0/1 or scores in [0, 1]); reports held-out ROC-AUC. */
export async function trainToxicityClassifier(
  data: readonly { readonly text: string; readonly label: number }[],
  opts: ClassifierOptions = {},
): Promise<ToxicityClassifier> {
  const features = opts.features ?? DEFAULT_FEATURES;
  if (!(Number.isInteger(features.log2Dims) && features.log2Dims >= 4 && features.log2Dims <= 24))
    throw classifierError("features.log2Dims", `must be an integer in 4..24, got ${features.log2Dims}`);
  data.forEach((d, i) => {
    if (!(d.label >= 0 && d.label <= 1)) throw classifierError(`training row ${i}`, `label ${d.label} is not in [0, 1]`);
  });
  const y = data.map((d) => d.label);
  const { train: trIds, held } = heldOutSplit(y, opts.heldOutFraction ?? 0.1, opts.seed ?? 0);
  const nPos = trIds.filter((i) => y[i] >= 0.5).length;
  if (nPos === 0 || nPos === trIds.length)
    throw classifierError("training data", `needs both toxic and non-toxic rows; the training split has ${nPos} toxic of ${trIds.length}`);
  const rows: Rows = { x: data.map((d) => featurize(d.text, features)), y };

  const D = 2 ** features.log2Dims;
  const prior = Math.log(nPos / (trIds.length - nPos)); // bias starts at the prior log-odds
  const [w, b] = tf.tidy(() => [tf.variable(tf.zeros([D]), true, "toxclf/w"), tf.variable(tf.scalar(prior), true, "toxclf/b")]);
  const bs = opts.batchSize ?? 64;
  const perEpoch = Math.ceil(trIds.length / bs);
  const epochs = opts.epochs ?? 6;
  const rng = makeRng((opts.seed ?? 0) + 1);
  const orders: number[][] = [];
  for (let e = 0; e < epochs; e++) {
    const o = [...trIds];
    for (let i = o.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [o[i], o[j]] = [o[j], o[i]];
    }
    orders.push(o);
  }
  try {
    await train({
      variables: { w, b },
      steps: epochs * perEpoch,
      batches: (step) => orders[Math.floor(step / perEpoch)].slice((step % perEpoch) * bs, (step % perEpoch + 1) * bs),
      loss: (order) =>
        tf.tidy(() => {
          const m = makeBatch(rows, order);
          const z = tf.add(sparseDot(w as tf.Tensor1D, m.idx, m.val), b); // (B, L) -> (B)
          return tf.losses.sigmoidCrossEntropy(m.y, z) as tf.Scalar;
        }),
      optimizer: { lr: opts.lr ?? 0.05, weightDecay: opts.weightDecay ?? 1e-4, decay: (name) => name === "w" },
      schedule: { warmup: 0, decay: "cosine", minLrRatio: 0.1 },
      seed: opts.seed ?? 0,
      onProgress: opts.onProgress,
    });
    const clf0 = new ToxicityClassifier(features, Float32Array.from(w.dataSync()), b.dataSync()[0], { heldOutAuc: NaN, trainSize: trIds.length, heldOutSize: held.length });
    const scores = clf0.toxicity(held.map((i) => data[i].text));
    const heldOutAuc = rocAuc(scores, held.map((i) => (y[i] >= 0.5 ? 1 : 0)));
    return new ToxicityClassifier(features, clf0.weights, clf0.bias, { ...clf0.info, heldOutAuc });
  } finally {
    tf.dispose([w, b]);
  }
}
