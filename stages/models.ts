// Model directories, the one on-disk contract between stages:
//   plain LM    checkpoint.json + tensors.bin (ml/checkpoint.ts) + tokenizer.json + model.json {kind:"lm"}
//   NADO-guided model.json {kind:"guided", alpha} + base/ (a plain LM dir) + nado/ (a NADO dir)
// and the glue that trains them from mix examples with the ML core's one training loop.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { drawBatch, encodeExamples, type TextExample, type TokenBatch } from "../ml/batches.ts";
import { loadLM, saveLM } from "../ml/checkpoint.ts";
import type { EvalLanguageModel } from "../ml/eval/types.ts";
import type { TokenScorer } from "../ml/eval/perplexity.ts";
import { disposeParams, initLM, lmLoss, lmVariables, type LMConfig, type LMParams } from "../ml/lm.ts";
import { Tokenizer, trainTokenizer } from "../ml/tokenizer.ts";
import { train, type TrainProgress } from "../ml/train.ts";
import * as tf from "@tensorflow/tfjs";
import { readJson, readJsonl, StageInputError, writeJson } from "./common.ts";

export const MODEL_MANIFEST = "model.json";
export const GUIDED_MANIFEST = MODEL_MANIFEST;
const TOKENIZER_FILE = "tokenizer.json";

// ---------------------------------------------------------------- params shared by training stages
const PosInt = Schema.Int.pipe(Schema.positive());
export const archFields = {
  dModel: param(PosInt, 64, "residual stream width"),
  nLayers: param(PosInt, 2, "transformer blocks"),
  nHeads: param(PosInt, 2, "attention heads (must divide dModel)"),
  contextLength: param(PosInt, 64, "context length in tokens"),
  dropout: param(Schema.Number.pipe(Schema.between(0, 0.9)), 0, "dropout rate while training"),
};
export type Arch = { readonly dModel: number; readonly nLayers: number; readonly nHeads: number; readonly contextLength: number; readonly dropout: number };

export const trainingFields = (d: { steps: number; lr: number }) => ({
  steps: param(Schema.Int.pipe(Schema.nonNegative()), d.steps, "optimizer steps"),
  batchSize: param(PosInt, 16, "sequences per step"),
  lr: param(Schema.Number.pipe(Schema.positive()), d.lr, "peak learning rate (AdamW, warmup + cosine decay)"),
  warmup: param(Schema.Int.pipe(Schema.nonNegative()), 10, "linear warmup steps"),
  weightDecay: param(Schema.Number.pipe(Schema.nonNegative()), 0.01, "AdamW decoupled weight decay"),
  clipNorm: param(Schema.Number.pipe(Schema.positive()), 1, "global gradient-norm clip"),
});
export type Training = { readonly steps: number; readonly batchSize: number; readonly lr: number; readonly warmup: number; readonly weightDecay: number; readonly clipNorm: number };

// ---------------------------------------------------------------- mix examples
export interface Example { readonly text: string; readonly domain: "toxic" | "general"; readonly prompt?: string; readonly regularise?: boolean }

export const readMix = (dir: string): Example[] => {
  if (!existsSync(join(dir, "train.jsonl"))) throw new StageInputError({ stage: "mix", message: `${dir} is not a mix directory (no train.jsonl)` });
  const xs = readJsonl<Example>(dir, "train.jsonl");
  if (xs.length === 0) throw new StageInputError({ stage: "mix", message: `the mix ${dir} has no examples` });
  return xs;
};

// ---------------------------------------------------------------- plain LMs
export interface Model {
  readonly config: LMConfig;
  readonly params: LMParams;
  readonly tokenizer: Tokenizer;
  dispose(): void;
}

const makeModel = (config: LMConfig, params: LMParams, tokenizer: Tokenizer): Model => ({
  config, params, tokenizer, dispose: () => disposeParams(lmVariables(params)),
});

export const readTokenizer = (dir: string): Tokenizer => Tokenizer.fromJSON(readJson(dir, TOKENIZER_FILE));

export const trainTokenizerInto = (dir: string, texts: readonly string[], vocabSize: number, onProgress: (done: number, total: number) => void): void => {
  const tok = trainTokenizer(texts, { vocabSize, onProgress });
  writeJson(dir, TOKENIZER_FILE, tok.toJSON());
};

export const createModel = (tokenizerDir: string, arch: Arch, seed: number): Model => {
  const tokenizer = readTokenizer(tokenizerDir);
  const config: LMConfig = { vocabSize: tokenizer.vocabSize, contextLength: arch.contextLength, dModel: arch.dModel, nHeads: arch.nHeads, nLayers: arch.nLayers, mlpRatio: 4, dropout: arch.dropout };
  return makeModel(config, initLM(config, seed), tokenizer);
};

export const loadModel = async (dir: string): Promise<Model> => {
  const kind = existsSync(join(dir, MODEL_MANIFEST)) ? readJson<{ kind: string }>(dir, MODEL_MANIFEST).kind : "lm";
  if (kind !== "lm") throw new StageInputError({ stage: "model", message: `${dir} holds a ${kind} model; this stage needs a plain LM (e.g. the SFT model, not the NADO-guided one)` });
  const { params, config } = await loadLM(dir);
  return makeModel(config, params, readTokenizer(dir));
};

export const saveModel = async (m: Model, dir: string): Promise<void> => {
  mkdirSync(dir, { recursive: true });
  await saveLM(dir, m.params, m.config, { tokenizer: TOKENIZER_FILE });
  writeJson(dir, TOKENIZER_FILE, m.tokenizer.toJSON());
  writeJson(dir, MODEL_MANIFEST, { kind: "lm", config: m.config });
};

/** The regulariser's q_t (METHOD.md §3) for a batch: log q (B·T, V) from the frozen θ̄ and φ. */
export type QLogProbs = (batch: TokenBatch) => tf.Tensor2D;

/**
 * Train `m` in place on examples: LM cross-entropy on the target tokens, plus λ · Σ reg_t KL(q_t ‖ p_θ)
 * when `reg` is given (ml/finetune.ts). Batches are drawn by ml/batches.ts from (seed, step).
 */
export const trainLM = async (
  m: Model, examples: readonly (Example & TextExample)[], t: Training, seed: number,
  onProgress: (p: TrainProgress) => void,
  reg?: { readonly snapshot: string; readonly nado: string; readonly lambda: number; readonly alpha: number },
): Promise<void> => {
  const data = encodeExamples(m.tokenizer, examples);
  const regulariser = reg && reg.lambda > 0 ? await makeRegulariser(m, reg) : undefined;
  try {
    await train<TokenBatch>({
      variables: lmVariables(m.params),
      batches: (step, micro) => drawBatch(data, t.batchSize, m.config.contextLength, m.tokenizer.pad, seed, step, micro),
      loss: (b, ctx) => {
        const ids = tf.tensor2d(b.ids, [b.B, b.T + 1], "int32");
        const mask = tf.tensor2d(b.mask, [b.B, b.T]);
        if (!regulariser) return lmLoss(m.params, m.config, ids, mask, { training: m.config.dropout > 0, seed: ctx.seed });
        return regulariser.loss(b, ids, mask, ctx.seed, reg!.lambda);
      },
      steps: t.steps,
      optimizer: { lr: t.lr, weightDecay: t.weightDecay },
      schedule: { warmup: Math.min(t.warmup, Math.floor(t.steps / 2)), decay: "cosine" },
      clipNorm: t.clipNorm,
      seed,
      onProgress,
    });
  } finally {
    regulariser?.dispose();
  }
};
