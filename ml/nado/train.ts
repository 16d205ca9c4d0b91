// One iteration's NADO building blocks on transformers (docs/method.md §2, §4): sample K continuations
// per prompt from the current base p (temperature T), label them with the oracle C, and train R_φ
// (warm-started from the previous NADO) with nadoLoss on the ML core's training loop.
import * as tf from "@tensorflow/tfjs";
import { packRows } from "../batches.ts";
import { fitPrompt, generateIds } from "../generate.ts";
import { type LMConfig, type LMParams, lmForward } from "../lm.ts";
import { deriveSeed, makeRng } from "../prng.ts";
import { type HistoryEntry, type TrainOptions, type TrainProgress, train } from "../train.ts";
import { headBiasFor, importanceWeights, nadoLoss } from "./losses.ts";
import { check } from "../errors.ts";
import { type NadoConfig, type NadoParams, initNado, nadoOnBase, nadoVariables } from "./model.ts";

export interface NadoSample {
  /** Prompt ids (BOS first) and continuation ids; the continuation ends with EOS if one was sampled. */
  readonly prompt: number[];
  readonly continuation: number[];
  /** C(x) ∈ [0, 1]. */
  readonly label: number;
  /** log p(continuation | prompt) at temperature 1, and log q under the temperature sampled with. */
  readonly logp: number;
  readonly logq: number;
}

export interface SampleAndLabelOptions {
  base: LMParams;
  cfg: LMConfig;
  prompts: number[][];
  /** Continuations per prompt. */
  K: number;
  temperature: number;
  maxNewTokens: number;
  eos: number;
  padId?: number;
  seed: number;
  /** The constraint oracle on (prompt, continuation) pairs, batched (e.g. a toxicity classifier). */
  oracle: (items: { prompt: number[]; continuation: number[] }[]) => number[] | Promise<number[]>;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Σ over the continuation of log softmax(logits / T)[x_t], for T = 1 and T = temperature. */
const continuationLogProbs = (p: LMParams, c: LMConfig, prompt: number[], cont: number[], temperature: number): [number, number] =>
  tf.tidy(() => {
    const seq = [...prompt, ...cont];
    const T = seq.length - 1;
    const logits = lmForward(p, c, tf.tensor2d([seq.slice(0, T)], [1, T], "int32")).logits.reshape([T, -1]).slice([T - cont.length, 0], [cont.length, -1]);
    const oh = tf.oneHot(tf.tensor1d(cont, "int32"), logits.shape[1]!);
    const pick = (lg: tf.Tensor) => tf.sum(tf.mul(tf.logSoftmax(lg), oh)).dataSync()[0];
    return [pick(logits), pick(tf.div(logits, temperature))];
  });

/**
 * Sample K continuations per prompt (plain temperature sampling: importance weights p/q need q's
 * exact density, so top-k/top-p are not offered here) and label them. A continuation shorter than
 * maxNewTokens stopped at EOS, which is kept as its last token (its probability is part of p(x)).
 */
export const sampleAndLabel = async (o: SampleAndLabelOptions): Promise<NadoSample[]> => {
  check(Number.isInteger(o.K) && o.K >= 1, "K", `sampleAndLabel: K (continuations per prompt) must be an integer >= 1, got ${o.K}`);
  check(o.temperature > 0, "temperature", `sampleAndLabel: temperature must be > 0 (importance weights need a proper density), got ${o.temperature}`);
  check(o.prompts.length > 0, "prompts", "sampleAndLabel: no prompts given; pass at least one (BOS-prefixed) prompt");
  check(Number.isInteger(o.maxNewTokens) && o.maxNewTokens >= 1 && o.maxNewTokens < o.cfg.contextLength, "maxNewTokens",
    `sampleAndLabel: maxNewTokens must be an integer in [1, contextLength ${o.cfg.contextLength}), got ${o.maxNewTokens}`);
  const bs = o.batchSize ?? 32;
  // Prompts cut as generateIds cuts them, so that the stored sample (prompt ⊕ continuation) fits the
  // context when it is scored here and when the NADO trains on it.
  const jobs = o.prompts.flatMap((p) => Array.from({ length: o.K }, () => fitPrompt(p, o.cfg, o.maxNewTokens)));
  const out: NadoSample[] = [];
  for (let i = 0; i < jobs.length; i += bs) {
    const prompts = jobs.slice(i, i + bs);
    const conts = generateIds(o.base, o.cfg, prompts, {
      maxNewTokens: o.maxNewTokens, temperature: o.temperature, stopTokens: [o.eos], padId: o.padId, seed: deriveSeed(o.seed, i / bs),
    }).map((r) => (r.length < o.maxNewTokens ? [...r, o.eos] : r));
    const labels = await o.oracle(prompts.map((prompt, j) => ({ prompt, continuation: conts[j] })));
    prompts.forEach((prompt, j) => {
      const [logp, logq] = continuationLogProbs(o.base, o.cfg, prompt, conts[j], o.temperature);
      out.push({ prompt, continuation: conts[j], label: labels[j], logp, logq });
    });
    o.onProgress?.(Math.min(i + bs, jobs.length), jobs.length);
  }
  return out;
};

export interface TrainNadoOptions {
  base: LMParams;
  baseCfg: LMConfig;
  nadoCfg: NadoConfig;
  samples: NadoSample[];
  /** Warm start (copied; not modified). Without it: fresh init with bias logit(mean label). */
  nadoInit?: NadoParams;
  beta?: number;
  steps: number;
  batchSize: number;
  lr: number;
  padId?: number;
  seed: number;
  onProgress?: (p: TrainProgress) => void;
  /** Save the training state every `every` steps and resume from it (ml/checkpoint.ts trainCheckpointHooks). */
  checkpoint?: TrainOptions<unknown>["checkpoint"];
}

/**
 * A batch of samples (ml/batches.ts packRows): ids (B, T+1) = prompt ⊕ continuation right-padded,
 * mask (B, T) = 1 where the target is a continuation token. Weights: softmax over the batch of log p − log q.
 */
const nadoBatch = (samples: NadoSample[], pad: number) => ({
  ...packRows(samples.map((s) => ({ ids: [...s.prompt, ...s.continuation], targetFrom: s.prompt.length })), pad),
  labels: samples.map((s) => s.label),
  logw: samples.map((s) => s.logp - s.logq),
});

/**
 * Batches of `batchSize` items drawn with replacement, from a seed of their own per (step, micro):
 * deterministic, as train()'s resume requires. `salt` separates the streams of different callers.
 */
const resampledBatches = <T>(items: readonly T[], batchSize: number, seed: number, salt: number) =>
  (step: number, micro: number): T[] => {
    const rng = makeRng(deriveSeed(seed, salt, step, micro));
    return Array.from({ length: Math.min(batchSize, items.length) }, () => items[Math.floor(rng.next() * items.length)]);
  };

/** AdamW with light decay, short warmup then cosine, clipping at 1: the NADO runs' settings. */
const nadoTrainSettings = (steps: number, lr: number) => ({
  steps,
  optimizer: { lr, weightDecay: 0.01 },
  schedule: { warmup: Math.min(10, Math.floor(steps / 10)), decay: "cosine" as const },
  clipNorm: 1,
});

/** Train R_φ on labelled samples of `base`; returns the trained NADO (new variables) and the history. */
export const trainNado = async (o: TrainNadoOptions): Promise<{ nado: NadoParams; history: HistoryEntry[] }> => {
  check(o.samples.length > 0, "samples", "trainNado: no samples; run sampleAndLabel first (prompts × K must be > 0)");
  check(o.nadoCfg.body.vocabSize === o.baseCfg.vocabSize, "nadoCfg.body.vocabSize",
    `trainNado: the NADO vocabulary (${o.nadoCfg.body.vocabSize}) must equal the base model's (${o.baseCfg.vocabSize})`);
  check((o.beta ?? 0.5) >= 0, "beta", `trainNado: beta must be >= 0, got ${o.beta}`);
  const pad = o.padId ?? 0;
  // Bias at logit of the (importance-weighted) mean label, so R_φ starts at the estimate of R(prompt).
  const maxLw = Math.max(...o.samples.map((s) => s.logp - s.logq));
  const w = o.samples.map((s) => Math.exp(s.logp - s.logq - maxLw));
  const nado = initNado(o.nadoCfg, o.seed, headBiasFor(o.samples.map((s) => s.label), w));
  if (o.nadoInit) {
    const from = nadoVariables(o.nadoInit);
    for (const [k, v] of Object.entries(nadoVariables(nado))) v.assign(from[k]);
  }
  const draw = resampledBatches(o.samples, o.batchSize, o.seed, 7);
  const history = await train({
    variables: nadoVariables(nado),
    batches: (step, micro) => nadoBatch(draw(step, micro), pad),
    loss: (b) => {
      const { B, T } = b;
      const all = tf.tensor2d(b.ids, [B, T + 1], "int32");
      const ids = all.slice([0, 0], [B, T]) as tf.Tensor2D;
      const baseOut = lmForward(o.base, o.baseCfg, ids); // base is not in the var list
      const logp = tf.logSoftmax(baseOut.logits) as tf.Tensor3D;
      return nadoLoss({
        z: nadoOnBase(nado, o.nadoCfg, ids, baseOut), logp,
        targets: all.slice([0, 1], [B, T]) as tf.Tensor2D, mask: tf.tensor2d(b.mask, [B, T]),
        labels: tf.tensor1d(b.labels), weights: importanceWeights(tf.tensor1d(b.logw), tf.zeros([B])),
      }, o.beta ?? 0.5).loss;
    },
    ...nadoTrainSettings(o.steps, o.lr),
    seed: o.seed,
    onProgress: o.onProgress,
    checkpoint: o.checkpoint,
  });
  return { nado, history };
};
