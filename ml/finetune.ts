// The regularised fine-tuning objective (docs/method.md §3):
//
//   L(θ) = [ Σ_{x∈D} Σ_t −log p_θ(x_t | x_<t)  +  λ Σ_{x∈D} Σ_t reg_t(x) · KL(q_t ‖ p_θ(·|x_<t)) ] / #tokens
//   q_t(v) ∝ p_θ̄(v | x_<t) · R_φ(x_<t ⊕ v)          (θ̄ a frozen snapshot, φ the NADO model)
//
// Both terms share the denominator (tokens in the batch), so the batch loss estimates the paper's
// sum-over-data objective up to one constant; reg_t = 1 on D_reg (adaptive: the attribute's domain
// only; non-adaptive: everywhere). The KL is closed-form over the whole vocabulary; q_t is a constant:
// it passes through `stopGradient`, so no gradient reaches θ̄ or φ even if they share variables with θ.
import * as tf from "@tensorflow/tfjs";
import { drawBatch, type EncodedExample, type TokenBatch } from "./batches.ts";
import { check } from "./errors.ts";
import { type LinearAdapter, type LMConfig, type LMParams, lmForward, lmLoss, lmVariables } from "./lm.ts";
import { type LoraParams, loraAdapter, loraVariables } from "./lora.ts";
import { guidedLogProbs } from "./nado/losses.ts";
import { type NadoConfig, type NadoParams, nadoOnBase } from "./nado/model.ts";
import { ops } from "./ops.ts";
import { type HistoryEntry, type TrainOptions, type TrainProgress, train } from "./train.ts";
import { stopGradient } from "./grad.ts";

export { stopGradient };

/**
 * Closed-form KL(q ‖ p_θ) per row: Σ_v q(v) (log q(v) − log softmax(logits)(v)), 0·log 0 = 0.
 * qLogProbs (N, V) normalised log-probs of the target (−∞ allowed), logits (N, V) -> (N).
 * Gradient in logits is softmax(logits) − q (a soft-label cross-entropy; tf's fused kernel);
 * no gradient reaches q (stopGradient), so a caller cannot leak one by accident.
 */
export const klToTarget = (qLogProbs: tf.Tensor2D, logits: tf.Tensor2D): tf.Tensor1D =>
  tf.tidy(() => {
    const lq = stopGradient(qLogProbs);
    const q = tf.exp(lq);
    // −H(q) = Σ q log q, with the q = 0 entries contributing 0: log q = −∞ there is clamped to a
    // finite value first (0 · −∞ would be NaN). Only differentiable ops here: the tape still walks
    // this branch (it starts after stopGradient, so it carries zero gradient).
    const negEntropy = tf.sum(tf.mul(q, tf.maximum(lq, -1e30)), -1);
    const crossEntropy = tf.losses.softmaxCrossEntropy(q, logits, undefined, 0, tf.Reduction.NONE) as tf.Tensor1D;
    return tf.add(crossEntropy, negEntropy) as tf.Tensor1D;
  });

export interface RegularisedBatch {
  /** p_θ logits (N, V) for N token positions (flattened B·T). */
  readonly logits: tf.Tensor2D;
  /** next-token targets (N) int32. */
  readonly targets: tf.Tensor1D;
  /** (N) 1 for real tokens, 0 for padding: the LM term and the denominator. */
  readonly tokenMask: tf.Tensor1D;
  /** (N) 1 where the regulariser applies (D_reg ∧ real token). */
  readonly regMask: tf.Tensor1D;
  /** log q_t (N, V) from the frozen snapshot and the NADO model; only read when λ > 0. */
  readonly qLogProbs?: tf.Tensor2D;
}

export interface RegularisedParts {
  readonly loss: tf.Scalar;
  /** Mean token cross-entropy (nats/token) — the plain fine-tuning loss. */
  readonly lm: tf.Scalar;
  /** Σ reg·KL / #tokens (0 when λ = 0). */
  readonly kl: tf.Scalar;
}

/**
 * The objective above for one batch. `lmLoss(logits, targets, mask)` is the plain fine-tuning
 * loss (masked mean cross-entropy) so λ = 0 returns exactly its value and graph, hence exactly its
 * gradient: the KL term is not even built.
 */
export const regularisedLoss = (
  b: RegularisedBatch,
  lambda: number,
  lmLoss: (logits: tf.Tensor2D, targets: tf.Tensor1D, mask: tf.Tensor1D) => tf.Scalar,
): RegularisedParts =>
  tf.tidy(() => {
    const lm = lmLoss(b.logits, b.targets, b.tokenMask);
    if (lambda === 0) return { loss: lm, lm, kl: tf.scalar(0) };
    if (!b.qLogProbs) throw new Error("regularisedLoss: λ > 0 needs qLogProbs (a defect in the caller)");
    const kl = klToTarget(b.qLogProbs, b.logits); // (N)
    const klMean = tf.div(tf.sum(tf.mul(kl, b.regMask)), tf.maximum(tf.sum(b.tokenMask), 1)) as tf.Scalar;
    return { loss: tf.add(lm, tf.mul(klMean, lambda)) as tf.Scalar, lm, kl: klMean };
  });

// ---------------------------------------------------------------- the one LM fine-tuning driver

/** The frozen side of the regulariser: θ̄ and φ give q_t ∝ p_θ̄(v | x_<t) · R_φ(x_<t ⊕ v)^α. */
export interface RegulariserGuide {
  snapshot: LMParams;
  snapshotCfg: LMConfig;
  nado: NadoParams;
  nadoCfg: NadoConfig;
  alpha: number;
}

/**
 * One batch of the regularised objective for model θ: inputs (B, T) int32; targets, tokenMask and
 * regMask over the N = B·T positions. q_t is built from the guide only when λ > 0 (at λ = 0 the
 * snapshot and NADO never run). Call inside the training loop's tape.
 */
export const regularisedBatchLoss = (
  model: { params: LMParams; cfg: LMConfig; training: boolean; seed: number; adapter?: LinearAdapter },
  guide: RegulariserGuide,
  b: { inputs: tf.Tensor2D; targets: tf.Tensor1D; tokenMask: tf.Tensor1D; regMask: tf.Tensor1D },
  lambda: number,
): tf.Scalar => {
  const N = b.targets.shape[0];
  const logits = lmForward(model.params, model.cfg, b.inputs, { training: model.training, seed: model.seed, adapter: model.adapter }).logits.reshape([N, -1]) as tf.Tensor2D;
  const snapshot = lambda === 0 ? undefined : lmForward(guide.snapshot, guide.snapshotCfg, b.inputs);
  const qLogProbs = snapshot === undefined ? undefined
    : (guidedLogProbs(snapshot.logits, nadoOnBase(guide.nado, guide.nadoCfg, b.inputs, snapshot), guide.alpha).reshape([N, -1]) as tf.Tensor2D);
  return regularisedLoss({ ...b, logits, qLogProbs }, lambda, ops().softmaxCrossEntropy).loss;
};

/** Optimizer settings of an LM training run (the stages' training params). */
export interface FinetuneSettings {
  readonly steps: number;
  /** Sequences per step. */
  readonly batchSize: number;
  /** Peak learning rate (AdamW, linear warmup then cosine decay). */
  readonly lr: number;
  /** Warmup steps, capped at half the run. */
  readonly warmup: number;
  readonly weightDecay: number;
  /** Global gradient-norm clip. */
  readonly clipNorm: number;
}

export interface FinetuneOptions extends FinetuneSettings {
  /** Trained in place. */
  readonly params: LMParams;
  readonly config: LMConfig;
  /** Encoded examples (ml/batches.ts encodeExamples): prompt positions are never targets; `regularise` = in D_reg. */
  readonly data: readonly EncodedExample[];
  readonly pad: number;
  /** Seed of the batch draws (ml/batches.ts drawBatch from (seed, step)) and of dropout. */
  readonly seed: number;
  /** λ and the frozen θ̄, φ; omitted or λ = 0: plain fine-tuning (the guide is then never run). */
  readonly regulariser?: { readonly guide: RegulariserGuide; readonly lambda: number };
  /**
   * A LoRA adapter on `params` (ml/lora.ts initLora): then only its factors train, in place, and
   * `params` stay as they are (merge with mergeLora afterwards). Omitted: full fine-tuning.
   */
  readonly lora?: LoraParams;
  readonly onProgress?: (p: TrainProgress) => void;
  /** Save the training state every `every` steps and resume from it (ml/checkpoint.ts trainCheckpointHooks). */
  readonly checkpoint?: TrainOptions<TokenBatch>["checkpoint"];
}

/** The loss of one drawn batch (ml/batches.ts TokenBatch) for finetuneLM's model and regulariser. */
export const finetuneBatchLoss = (o: Pick<FinetuneOptions, "params" | "config" | "regulariser" | "lora">, b: TokenBatch, seed: number): tf.Scalar => {
  const lora = o.lora && o.lora.modules.length > 0 ? o.lora : undefined;
  const training = { training: o.config.dropout > 0 || (lora?.settings.dropout ?? 0) > 0, seed, adapter: lora && loraAdapter(lora) };
  const ids = tf.tensor2d(b.ids, [b.B, b.T + 1], "int32");
  const mask = tf.tensor2d(b.mask, [b.B, b.T]);
  const reg = o.regulariser;
  if (!reg || reg.lambda === 0) return lmLoss(o.params, o.config, ids, mask, training);
  const N = b.B * b.T;
  return regularisedBatchLoss(
    { params: o.params, cfg: o.config, ...training },
    reg.guide,
    {
      inputs: ids.slice([0, 0], [b.B, b.T]) as tf.Tensor2D,
      targets: ids.slice([0, 1], [b.B, b.T]).reshape([N]) as tf.Tensor1D,
      tokenMask: mask.reshape([N]) as tf.Tensor1D,
      regMask: tf.tensor1d(b.reg),
    },
    reg.lambda,
  );
};

/**
 * Train an LM in place on encoded examples: LM cross-entropy on the target tokens, plus
 * λ · Σ reg_t KL(q_t ‖ p_θ) when a regulariser is given (the objective above). Pretraining, SFT,
 * Filtration and the regularised fine-tuning all run through here, so they see identical batches:
 * `batchSize` examples per step drawn by drawBatch from (seed, step), long ones cut to a random window.
 */
export const finetuneLM = async (o: FinetuneOptions): Promise<HistoryEntry[]> => {
  check(o.data.length > 0, "data", "finetuneLM: no training examples; pass at least one encoded example");
  const reg = o.regulariser;
  if (reg) {
    check(reg.lambda >= 0, "lambda", `finetuneLM: lambda must be >= 0, got ${reg.lambda}`);
    check(reg.guide.nadoCfg.body.vocabSize === o.config.vocabSize && reg.guide.snapshotCfg.vocabSize === o.config.vocabSize, "regulariser.guide",
      `finetuneLM: the NADO (${reg.guide.nadoCfg.body.vocabSize}) and snapshot (${reg.guide.snapshotCfg.vocabSize}) vocabularies must equal the model's (${o.config.vocabSize}); train them on the same tokenizer`);
  }
  return train<TokenBatch>({
    variables: o.lora ? loraVariables(o.lora) : lmVariables(o.params),
    batches: (step, micro) => drawBatch(o.data, o.batchSize, o.config.contextLength, o.pad, o.seed, step, micro),
    loss: (b, ctx) => finetuneBatchLoss(o, b, ctx.seed),
    steps: o.steps,
    optimizer: { lr: o.lr, weightDecay: o.weightDecay },
    schedule: { warmup: Math.min(o.warmup, Math.floor(o.steps / 2)), decay: "cosine" },
    clipNorm: o.clipNorm,
    seed: o.seed,
    onProgress: o.onProgress,
    checkpoint: o.checkpoint,
  });
};
