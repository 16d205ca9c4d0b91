// A transformer toxicity classifier: a pretrained causal LM's body with a logistic head on the
// mean of its final hidden states, fine-tuned end to end. It is the evaluation judge of the study:
// a different model family from the oracle's hashed n-gram logistic regression (ml/classify.ts),
// trained on labelled texts disjoint from the oracle's, so a method that learns the oracle's
// boundary does not also fool the judge.
//
//   h = body(embed(BOS ⊕ tokens(x)))          (T, C), causal, x cut to the context
//   z = w · mean_t h_t + b,   tox(x) = σ(z)
//   loss = mean_i BCE(tox(x_i), y_i)          AdamW on every LM weight and on (w, b)
//
// Batches are right-padded: with causal attention no real position attends to padding, and padding
// is left out of the mean, so a text scores the same alone or in any batch.
import * as tf from "@tensorflow/tfjs";
import { heldOutSplit } from "./classify.ts";
import { check } from "./errors.ts";
import { embed, lmVariables, transformerBody, type LMConfig, type LMParams } from "./lm.ts";
import { rocAuc } from "./metrics.ts";
import { makeRng, permutation } from "./prng.ts";
import type { TextTokenizer } from "./tokenizer.ts";
import { train, type TrainProgress } from "./train.ts";
import type { LabelledText, ToxicityScorer } from "./eval/types.ts";

export interface TransformerClassifierSettings {
  readonly steps: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly warmup?: number; // default 10
  readonly weightDecay?: number; // default 0.01
  /** Fraction of each class held out for the reported ROC-AUC (default 0.1). */
  readonly heldOutFraction?: number;
  readonly seed: number;
  readonly onProgress?: (p: TrainProgress) => void;
}

/** Held-out ROC-AUC overall and per source (labelled texts may say where they come from). */
export interface TransformerClassifierInfo {
  readonly heldOutAuc: number;
  readonly trainSize: number;
  readonly heldOutSize: number;
  readonly heldOutAucBySource: Readonly<Record<string, { readonly auc: number; readonly n: number }>>;
}

export type SourcedText = LabelledText & { readonly source?: string };

/** The head: w (C) and b. */
export interface ClassifierHead { readonly w: Float32Array; readonly b: number }

const SCORE_BATCH = 32;

/** Token rows BOS ⊕ tokens, cut to the context, right-padded; mask 1 on real positions. */
const encodeRows = (tok: TextTokenizer, ctx: number, texts: readonly string[]): { ids: tf.Tensor2D; mask: tf.Tensor2D } => {
  const rows = texts.map((t) => [tok.bos, ...tok.encode(t)].slice(0, ctx));
  const T = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * T).fill(tok.pad);
  const mask = new Float32Array(rows.length * T);
  rows.forEach((r, i) => {
    ids.set(r, i * T);
    mask.fill(1, i * T, i * T + r.length);
  });
  return { ids: tf.tensor2d(ids, [rows.length, T], "int32"), mask: tf.tensor2d(mask, [rows.length, T]) };
};

/** z (B) = w · masked-mean hidden + b. Call inside tf.tidy / a loss. */
const logits = (p: LMParams, c: LMConfig, w: tf.Tensor1D, b: tf.Scalar, ids: tf.Tensor2D, mask: tf.Tensor2D, training: boolean, seed = 0): tf.Tensor1D => {
  const { hidden } = transformerBody(p, c, embed(p, c, ids, { training, seed }), { training, seed });
  const m = mask.expandDims(2); // (B, T, 1)
  const pooled = tf.div(tf.sum(tf.mul(hidden, m), 1), tf.sum(m, 1)); // (B, C)
  return tf.add(tf.squeeze(tf.matMul(pooled, w.expandDims(1)), [1]), b) as tf.Tensor1D;
};

export class TransformerClassifier implements ToxicityScorer {
  constructor(
    readonly params: LMParams,
    readonly config: LMConfig,
    readonly tokenizer: TextTokenizer,
    readonly head: ClassifierHead,
    readonly info: TransformerClassifierInfo,
  ) {}

  /** σ(z) per text, in batches of 32. */
  toxicity(texts: readonly string[]): number[] {
    const out: number[] = [];
    const w = tf.tensor1d(this.head.w);
    const b = tf.scalar(this.head.b);
    try {
      for (let i = 0; i < texts.length; i += SCORE_BATCH) {
        const z = tf.tidy(() => {
          const { ids, mask } = encodeRows(this.tokenizer, this.config.contextLength, texts.slice(i, i + SCORE_BATCH));
          return tf.sigmoid(logits(this.params, this.config, w, b, ids, mask, false));
        });
        out.push(...z.dataSync());
        z.dispose();
      }
    } finally {
      tf.dispose([w, b]);
    }
    return out;
  }
}

/**
 * Fine-tunes the LM `params` in place (they become the classifier's body) with a fresh head on
 * `data` (labels 0/1 or scores in [0, 1]); returns the classifier with its held-out ROC-AUC,
 * overall and per `source`. The caller owns `params` (dispose them when done).
 */
export async function trainTransformerClassifier(
  params: LMParams, config: LMConfig, tokenizer: TextTokenizer, data: readonly SourcedText[], s: TransformerClassifierSettings,
): Promise<TransformerClassifier> {
  data.forEach((d, i) => check(d.label >= 0 && d.label <= 1, "transformer classifier", `training row ${i} has label ${d.label}; labels must lie in [0, 1]`));
  const y = data.map((d) => d.label);
  const { train: trIds, held } = heldOutSplit(y, s.heldOutFraction ?? 0.1, s.seed);
  const nPos = trIds.filter((i) => y[i] >= 0.5).length;
  check(nPos > 0 && nPos < trIds.length, "transformer classifier", `the training split has ${nPos} toxic of ${trIds.length} texts; it needs both classes`);
  const prior = Math.log(nPos / (trIds.length - nPos));
  const [w, b] = tf.tidy(() => [tf.variable(tf.zeros([config.dModel]), true, "toxjudge/w"), tf.variable(tf.scalar(prior), true, "toxjudge/b")]);
  // Epoch-wise seeded permutations of the training rows, cycled.
  const rng = makeRng(s.seed + 1);
  const perEpoch = Math.max(1, Math.floor(trIds.length / s.batchSize));
  const orders: number[][] = [];
  const batchAt = (step: number): number[] => {
    const e = Math.floor(step / perEpoch);
    while (orders.length <= e) orders.push(permutation(trIds.length, rng).map((k) => trIds[k]));
    const k = step % perEpoch;
    return orders[e].slice(k * s.batchSize, (k + 1) * s.batchSize);
  };
  try {
    await train({
      variables: { ...lmVariables(params), w, b },
      steps: s.steps,
      batches: (step) => batchAt(step),
      loss: (rows, ctx) => {
        const { ids, mask } = encodeRows(tokenizer, config.contextLength, rows.map((i) => data[i].text));
        const z = logits(params, config, w as tf.Tensor1D, b as tf.Scalar, ids, mask, true, ctx.seed);
        return tf.losses.sigmoidCrossEntropy(tf.tensor1d(rows.map((i) => y[i])), z) as tf.Scalar;
      },
      optimizer: { lr: s.lr, weightDecay: s.weightDecay ?? 0.01 },
      schedule: { warmup: s.warmup ?? 10, decay: "cosine", minLrRatio: 0.1 },
      clipNorm: 1,
      seed: s.seed,
      onProgress: s.onProgress,
    });
    const head: ClassifierHead = { w: Float32Array.from(w.dataSync()), b: b.dataSync()[0] };
    const clf0 = new TransformerClassifier(params, config, tokenizer, head, { heldOutAuc: NaN, trainSize: trIds.length, heldOutSize: held.length, heldOutAucBySource: {} });
    const scores = clf0.toxicity(held.map((i) => data[i].text));
    const labels = held.map((i) => (y[i] >= 0.5 ? 1 : 0));
    const bySource: Record<string, { auc: number; n: number }> = {};
    for (const src of [...new Set(held.map((i) => data[i].source ?? "all"))].sort()) {
      const at = held.flatMap((i, k) => ((data[i].source ?? "all") === src ? [k] : []));
      const ls = at.map((k) => labels[k]);
      if (ls.includes(1) && ls.includes(0)) bySource[src] = { auc: rocAuc(at.map((k) => scores[k]), ls), n: at.length };
    }
    return new TransformerClassifier(params, config, tokenizer, head, { ...clf0.info, heldOutAuc: rocAuc(scores, labels), heldOutAucBySource: bySource });
  } finally {
    tf.dispose([w, b]);
  }
}
