// The regularised fine-tuning objective (METHOD.md §3):
//
//   L(θ) = [ Σ_{x∈D} Σ_t −log p_θ(x_t | x_<t)  +  λ Σ_{x∈D} Σ_t reg_t(x) · KL(q_t ‖ p_θ(·|x_<t)) ] / #tokens
//   q_t(v) ∝ p_θ̄(v | x_<t) · R_φ(x_<t ⊕ v)          (θ̄ a frozen snapshot, φ the NADO model)
//
// Both terms share the denominator (tokens in the batch), so the batch loss estimates the paper's
// sum-over-data objective up to one constant; reg_t = 1 on D_reg (adaptive: the attribute's domain
// only; non-adaptive: everywhere). The KL is closed-form over the whole vocabulary; q_t is a constant:
// it passes through `stopGradient`, so no gradient reaches θ̄ or φ even if they share variables with θ.
import * as tf from "@tensorflow/tfjs";
import { type LMConfig, type LMParams, lmForward, lmVariables } from "./lm.ts";
import { guidedLogProbs } from "./nado/losses.ts";
import { type NadoConfig, type NadoParams, nadoForward } from "./nado/model.ts";
import { type RunOptions, check, resampledBatches, transformerTrainSettings } from "./nado/train.ts";
import { ops } from "./ops.ts";
import { type HistoryEntry, train } from "./train.ts";
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

// ---------------------------------------------------------------- one fine-tuning run

export interface FinetuneExample {
  /** BOS ⊕ text ids (truncated to contextLength + 1 by the caller). */
  readonly ids: number[];
  /** In D_reg (the attribute's domain)? Non-adaptive: every example true. */
  readonly reg: boolean;
}

export interface FinetuneRegularisedOptions extends RunOptions {
  model: LMParams;
  cfg: LMConfig;
  /** Frozen θ̄ (the previous iteration's model; must be separate variables or a copy). */
  snapshot: LMParams;
  nado: NadoParams;
  nadoCfg: NadoConfig;
  data: FinetuneExample[];
  lambda: number;
  alpha?: number;
}

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
  model: { params: LMParams; cfg: LMConfig; training: boolean; seed: number },
  guide: RegulariserGuide,
  b: { inputs: tf.Tensor2D; targets: tf.Tensor1D; tokenMask: tf.Tensor1D; regMask: tf.Tensor1D },
  lambda: number,
): tf.Scalar => {
  const N = b.targets.shape[0];
  const logits = lmForward(model.params, model.cfg, b.inputs, { training: model.training, seed: model.seed }).logits.reshape([N, -1]) as tf.Tensor2D;
  const qLogProbs = lambda === 0 ? undefined
    : (guidedLogProbs(lmForward(guide.snapshot, guide.snapshotCfg, b.inputs).logits, nadoForward(guide.nado, guide.nadoCfg, b.inputs), guide.alpha)
        .reshape([N, -1]) as tf.Tensor2D);
  return regularisedLoss({ ...b, logits, qLogProbs }, lambda, ops().softmaxCrossEntropy).loss;
};

/** Right-padded batch: inputs (B, T), targets (B·T), tokenMask and regMask (B·T). */
const finetuneBatch = (ex: FinetuneExample[], pad: number) => {
  const T = Math.max(...ex.map((e) => e.ids.length)) - 1;
  return {
    inputs: ex.map((e) => Array.from({ length: T }, (_, t) => (t < e.ids.length ? e.ids[t] : pad))),
    targets: ex.flatMap((e) => Array.from({ length: T }, (_, t) => (t + 1 < e.ids.length ? e.ids[t + 1] : pad))),
    tokenMask: ex.flatMap((e) => Array.from({ length: T }, (_, t) => (t + 1 < e.ids.length ? 1 : 0))),
    regMask: ex.flatMap((e) => Array.from({ length: T }, (_, t) => (e.reg && t + 1 < e.ids.length ? 1 : 0))),
  };
};

/**
 * Fine-tune `model` in place with the regularised loss; λ = 0 is plain fine-tuning (the snapshot
 * and NADO are then never run). q_t is recomputed per batch from the frozen snapshot and NADO.
 */
export const finetuneRegularised = async (o: FinetuneRegularisedOptions): Promise<HistoryEntry[]> => {
  check(o.data.length > 0, "data", "finetuneRegularised: no training examples");
  check(o.lambda >= 0, "lambda", `finetuneRegularised: lambda must be >= 0, got ${o.lambda}`);
  check(o.nadoCfg.body.vocabSize === o.cfg.vocabSize, "nadoCfg.body.vocabSize",
    `finetuneRegularised: the NADO vocabulary (${o.nadoCfg.body.vocabSize}) must equal the model's (${o.cfg.vocabSize})`);
  const pad = o.padId ?? 0;
  const draw = resampledBatches(o.data, o.batchSize, o.seed, 11);
  return train({
    variables: lmVariables(o.model),
    batches: (step, micro) => finetuneBatch(draw(step, micro), pad),
    loss: (b, ctx) =>
      regularisedBatchLoss(
        { params: o.model, cfg: o.cfg, training: true, seed: ctx.seed },
        { snapshot: o.snapshot, snapshotCfg: o.cfg, nado: o.nado, nadoCfg: o.nadoCfg, alpha: o.alpha ?? 1 },
        { inputs: tf.tensor2d(b.inputs, undefined, "int32"), targets: tf.tensor1d(b.targets, "int32"), tokenMask: tf.tensor1d(b.tokenMask), regMask: tf.tensor1d(b.regMask) },
        o.lambda,
      ),
    ...transformerTrainSettings(o.steps, o.lr),
    seed: o.seed,
    onProgress: o.onProgress,
  });
};
