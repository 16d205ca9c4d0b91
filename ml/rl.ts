// The RL baseline (docs/method.md §5): from the SFT model, maximise the reward C(x) of sampled
// continuations by REINFORCE with a leave-one-out baseline over K samples per prompt (RLOO;
// Kool et al. 2019, Ahmadian et al. 2024), plus a KL penalty towards the frozen SFT (reference) model.
//
//   loss(θ) = − (1/B) Σ_b A_b · log π_θ(y_b | x_b)  +  β · (1/B) Σ_b Σ_{t ∈ y_b} KL( π_θ(·|h_t) ‖ π_ref(·|h_t) )
//   A_{p,k} = r_{p,k} − (1/(K−1)) Σ_{j≠k} r_{p,j}          (leave-one-out baseline, unbiased)
//
// Departure from TRL's RLOO on purpose: TRL folds a sampled KL estimate (log π − log π_ref of the drawn
// token) into the reward; here the KL is computed in closed form over the vocabulary at every
// continuation position and added to the loss (as in GRPO), which has lower variance and an exact
// gradient along the sampled prefixes, at the cost of one reference forward pass per step.
//
// Sampling is on-policy: at every optimizer step the generic training loop (ml/train.ts) asks for a
// batch, and `trainRL`'s batch function samples K continuations of each of the step's prompts from
// the CURRENT policy (ml/generate.ts, synchronous) and scores them with the reward. Sampling uses
// temperature 1 by default: REINFORCE is unbiased only for samples drawn from π itself.

import { Data } from "effect";
import * as tf from "@tensorflow/tfjs";
import type { AdamWConfig } from "./adamw.ts";
import { packRows } from "./batches.ts";
import { constraintFromToxicity, type ConstraintMode } from "./classify.ts";
import { fitPrompt, generateIds } from "./generate.ts";
import { lmForward, lmVariables, type LinearAdapter, type LMConfig, type LMParams } from "./lm.ts";
import { type LoraParams, loraAdapter, loraVariables } from "./lora.ts";
import { ops } from "./ops.ts";
import { deriveSeed, makeRng, permutation } from "./prng.ts";
import type { SamplingOptions } from "./sampling.ts";
import { train, type HistoryEntry, type TrainOptions } from "./train.ts";
import { stopGradient } from "./grad.ts";

/** A bad RL setting or rollout (K < 2, a sequence longer than the context…), named precisely. */
export class RLConfigError extends Data.TaggedError("RLConfigError")<{ readonly field: string; readonly detail: string; readonly message: string }> {}
const rlError = (field: string, detail: string) => new RLConfigError({ field, detail, message: `RL ${field}: ${detail}` });

/**
 * Leave-one-out advantages. rewards[p][k] is the reward of sample k of prompt p (K ≥ 2 per prompt):
 * A[p][k] = r[p][k] − mean_{j≠k} r[p][j] = K/(K−1) · (r[p][k] − mean_j r[p][j]). Σ_k A[p][k] = 0.
 */
export function rlooAdvantages(rewards: readonly (readonly number[])[]): number[][] {
  return rewards.map((rs, p) => {
    const K = rs.length;
    if (K < 2) throw rlError("k", `prompt ${p} has ${K} samples; the leave-one-out baseline needs K ≥ 2`);
    const sum = rs.reduce((s, r) => s + r, 0);
    return rs.map((r) => r - (sum - r) / (K - 1));
  });
}

/**
 * Σ_t mask[b,t] · log softmax(logits[b,t])[targets[b,t]]  →  (B).
 * logits (B, T, V), targets (B, T) int32, mask (B, T) float 0/1.
 */
export function sequenceLogProbs(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    // (B, T, V) -> (B·T, V); cross-entropy has a fused gradient (softmax − onehot)
    const ce = ops().tokenCrossEntropy(logits.reshape([B * T, V]) as tf.Tensor2D, targets.reshape([B * T]) as tf.Tensor1D);
    return tf.sum(tf.mul(tf.neg(ce).reshape([B, T]), mask), 1) as tf.Tensor1D;
  });
}

/**
 * Closed-form KL(π ‖ π_ref) summed over the masked positions → (B):
 * Σ_t mask[b,t] Σ_v π(v|h_t) (log π(v|h_t) − log π_ref(v|h_t)). Gradient flows into `logits` only.
 */
export function klToReference(logits: tf.Tensor3D, refLogits: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const lp = ops().logSoftmax(logits);
    const lr = stopGradient(ops().logSoftmax(refLogits));
    const perPos = tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lr)), -1); // (B, T)
    return tf.sum(tf.mul(perPos, mask), 1) as tf.Tensor1D;
  });
}

/** One batch of rollouts as tensors: ids (B, T+1) right-padded, mask (B, T) on continuation targets. */
export interface RLBatch {
  readonly ids: tf.Tensor2D;
  readonly mask: tf.Tensor2D;
  readonly advantages: tf.Tensor1D;
}

/** The RLOO objective from logits (exported so its gradient can be checked analytically). */
export function rlObjective(
  logits: tf.Tensor3D,
  refLogits: tf.Tensor3D,
  targets: tf.Tensor2D,
  mask: tf.Tensor2D,
  advantages: tf.Tensor1D,
  klCoef: number,
): tf.Scalar {
  return tf.tidy(() => {
    const pg = tf.neg(tf.mean(tf.mul(stopGradient(advantages), sequenceLogProbs(logits, targets, mask))));
    if (klCoef === 0) return pg as tf.Scalar;
    return tf.add(pg, tf.mul(klCoef, tf.mean(klToReference(logits, refLogits, mask)))) as tf.Scalar;
  });
}

/** The loss the training loop differentiates: policy forward (with grad) + reference forward. */
export function rlLoss(
  policy: LMParams,
  ref: LMParams,
  config: LMConfig,
  batch: RLBatch,
  klCoef: number,
  adapter?: LinearAdapter,
): tf.Scalar {
  return tf.tidy(() => {
    const [B, T1] = batch.ids.shape;
    const inputs = batch.ids.slice([0, 0], [B, T1 - 1]) as tf.Tensor2D;
    const targets = batch.ids.slice([0, 1], [B, T1 - 1]) as tf.Tensor2D;
    const { logits } = lmForward(policy, config, inputs, { adapter });
    const refLogits = klCoef === 0 ? logits : stopGradient(lmForward(ref, config, inputs).logits);
    return rlObjective(logits, refLogits as tf.Tensor3D, targets, batch.mask, batch.advantages, klCoef);
  });
}

/**
 * Packs rollouts into an RLBatch with ml/batches.ts packRows: sequence b is prompt ⊕ completion,
 * right-padded with `pad` (padding sits after every scored target, so causal attention never lets it
 * influence them); mask[b, t] = 1 when target position t+1 is a completion token.
 */
export function buildRLBatch(
  rollouts: readonly { readonly prompt: readonly number[]; readonly completion: readonly number[] }[],
  advantages: readonly number[],
  contextLength: number,
  pad = 0,
): RLBatch {
  const T1 = Math.max(...rollouts.map((r) => r.prompt.length + r.completion.length));
  if (T1 - 1 > contextLength)
    throw rlError("rollout", `a prompt + completion has ${T1} tokens; at most contextLength + 1 = ${contextLength + 1} fit`);
  const b = rollouts.findIndex((r) => r.prompt.length === 0);
  if (b >= 0) throw rlError("rollout", `rollout ${b} has an empty prompt; start prompts with BOS so the first token is scored`);
  const { B, T, ids, mask } = packRows(rollouts.map((r) => ({ ids: [...r.prompt, ...r.completion], targetFrom: r.prompt.length })), pad);
  return {
    ids: tf.tensor2d(ids, [B, T + 1], "int32"),
    mask: tf.tensor2d(mask, [B, T]),
    advantages: tf.tensor1d([...advantages]),
  };
}

export const disposeRLBatch = (b: RLBatch): void => tf.dispose([b.ids, b.mask, b.advantages]);

// ---------------------------------------------------------------- the driver

/**
 * The method's reward r(x) = C(x) from a synchronous toxicity scorer (the oracle) on the decoded
 * completions: hard 1[tox < τ] or soft 1 − tox.
 */
export function oracleReward(
  oracle: { toxicity(texts: readonly string[]): readonly number[] },
  decode: (ids: readonly number[]) => string,
  mode: ConstraintMode = "hard",
  threshold = 0.5,
): (completions: number[][]) => number[] {
  return (completions) => constraintFromToxicity(oracle.toxicity(completions.map(decode)), mode, threshold);
}

export interface RLOptions {
  /** Trained in place (start it from the SFT weights). */
  readonly policy: LMParams;
  /** Frozen reference for the KL penalty (a copy of the SFT weights; with `lora`, `policy` itself may serve). */
  readonly reference: LMParams;
  /** A LoRA adapter on `policy` (ml/lora.ts): then only it trains, and rollouts sample through it; policy's weights stay as they are. */
  readonly lora?: LoraParams;
  readonly config: LMConfig;
  /** Prompt token ids, each starting with BOS. Cycled through in a seeded order. */
  readonly prompts: readonly (readonly number[])[];
  /** Reward of each completion (token ids, stop token excluded), e.g. C(decode(completion)). */
  readonly reward: (completions: number[][], prompts: number[][]) => number[];
  readonly steps: number;
  /** Samples per prompt, K ≥ 2 (default 4). */
  readonly k?: number;
  /** Prompts per optimizer step (default 8): batch = promptsPerStep · K sequences. */
  readonly promptsPerStep?: number;
  /** β, the KL coefficient (default 0.05). */
  readonly klCoef?: number;
  readonly maxNewTokens?: number; // default 32
  /** Sampling settings (default temperature 1: on-policy). */
  readonly sampling?: SamplingOptions;
  /** End-of-sequence id: a completion that stopped early is scored with it appended (the choice to stop is an action). */
  readonly eos?: number;
  readonly optimizer?: AdamWConfig; // default lr 1e-4, no weight decay
  readonly clipNorm?: number; // default 1
  readonly seed?: number;
  readonly onProgress?: (p: RLProgress) => void;
  /** Save the training state every `every` steps and resume from it (ml/checkpoint.ts trainCheckpointHooks). */
  readonly checkpoint?: TrainOptions<unknown>["checkpoint"];
}

export interface RLProgress extends HistoryEntry {
  /** Mean reward of this step's samples. */
  readonly reward: number;
  readonly done: number;
  readonly steps: number;
  readonly etaMs: number;
}

export interface RLHistoryEntry extends HistoryEntry {
  readonly reward: number;
}

interface StepBatch {
  readonly rollouts: { prompt: number[]; completion: number[] }[];
  readonly advantages: number[];
}

/** Samples and scores one step's rollouts from the current policy (deterministic in (seed, step)). */
function sampleStep(o: RLOptions, order: readonly number[], step: number): { batch: StepBatch; reward: number } {
  const K = o.k ?? 4;
  const P = Math.min(o.promptsPerStep ?? 8, o.prompts.length);
  const maxNew = o.maxNewTokens ?? 32;
  const chosen = Array.from({ length: P }, (_, i) => fitPrompt(o.prompts[order[(step * P + i) % order.length]], o.config, maxNew));
  const repeated = chosen.flatMap((p) => Array.from({ length: K }, () => p)); // (P·K), prompt-major
  const stops = o.eos === undefined ? [] : [o.eos];
  const sampling = { temperature: 1, ...o.sampling };
  const comps = generateIds(o.policy, o.config, repeated, { ...sampling, maxNewTokens: maxNew, stopTokens: stops, seed: deriveSeed(o.seed ?? 0, step), adapter: o.lora && loraAdapter(o.lora) });
  const rewards = o.reward(comps, repeated);
  if (rewards.length !== comps.length) throw rlError("reward", `returned ${rewards.length} rewards for ${comps.length} completions`);
  const adv = rlooAdvantages(Array.from({ length: P }, (_, p) => rewards.slice(p * K, (p + 1) * K))).flat();
  const rollouts = repeated.map((prompt, i) => ({
    prompt,
    completion: o.eos !== undefined && comps[i].length < maxNew ? [...comps[i], o.eos] : comps[i],
  }));
  return { batch: { rollouts, advantages: adv }, reward: rewards.reduce((a, r) => a + r, 0) / rewards.length };
}

/** RLOO + KL fine-tuning of `policy` in place; returns the per-step history with mean rewards. */
export async function trainRL(o: RLOptions): Promise<RLHistoryEntry[]> {
  if (o.prompts.length === 0) throw rlError("prompts", "no prompts given");
  if ((o.k ?? 4) < 2) throw rlError("k", `K = ${o.k}; the leave-one-out baseline needs K ≥ 2`);
  const order = permutation(o.prompts.length, makeRng(deriveSeed(o.seed ?? 0, 0x51)));
  const rewards = new Map<number, number>();
  const klCoef = o.klCoef ?? 0.05;
  const history = await train<StepBatch>({
    variables: o.lora ? loraVariables(o.lora) : lmVariables(o.policy),
    steps: o.steps,
    batches: (step) => {
      const { batch, reward } = sampleStep(o, order, step);
      rewards.set(step, reward);
      return batch;
    },
    loss: (b) =>
      tf.tidy(() => rlLoss(o.policy, o.reference, o.config, buildRLBatch(b.rollouts, b.advantages, o.config.contextLength), klCoef, o.lora && loraAdapter(o.lora))),
    optimizer: o.optimizer ?? { lr: 1e-4, weightDecay: 0 },
    schedule: { warmup: 0, decay: "constant" },
    clipNorm: o.clipNorm ?? 1,
    seed: o.seed ?? 0,
    onProgress: (p) => o.onProgress?.({ ...p, reward: rewards.get(p.step) ?? NaN }),
    checkpoint: o.checkpoint,
  });
  return history.map((h) => ({ ...h, reward: rewards.get(h.step) ?? NaN }));
}
