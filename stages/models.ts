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
import { plainLanguageModel } from "../ml/languageModel.ts";
import { scoreContinuations } from "../ml/score.ts";
import { generateIds } from "../ml/generate.ts";
import { deriveSeed, makeRng } from "../ml/prng.ts";
import type { EvalLanguageModel } from "../ml/eval/types.ts";
import { lmTokenScorer, type TokenScorer } from "../ml/eval/perplexity.ts";
import { disposeParams, initLM, lmForward, lmLoss, lmVariables, type LMConfig, type LMParams } from "../ml/lm.ts";
import { regularisedLoss } from "../ml/finetune.ts";
import { disposeNado, guidedForward, guidedLogitsProcessor, guidedTokenLogProbs, loadNado, nadoFor, saveNado, trainNado } from "../ml/nadoModel.ts";
import { ops } from "../ml/ops.ts";
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

// ---------------------------------------------------------------- models as the evaluations see them
/** A loaded model as evaluations meet it: text in/out (`lm`), token-level scoring (`scorer`), `fits`. */
export interface EvalModel {
  readonly lm: EvalLanguageModel;
  readonly scorer: TokenScorer;
  /** Whether a prompt (plus BOS and a one-token answer) fits the context (MMLU drops shots until it does). */
  readonly fits: (prompt: string) => boolean;
  /** Whether a continuation can be scored at all (its tokens fit the context; the context is cut from the left). */
  readonly fitsContinuation: (continuation: string) => boolean;
}

const fitters = (tok: Tokenizer, ctx: number) => ({
  fits: (p: string) => tok.encode(p).length + 2 <= ctx,
  fitsContinuation: (c: string) => tok.encode(c).length <= ctx - 1,
});

/** Load the model directory (plain or NADO-guided), run `f`, dispose every tensor it holds. */
export const withModel = async <A>(dir: string, f: (m: EvalModel) => Promise<A>): Promise<A> => {
  const manifest = existsSync(join(dir, MODEL_MANIFEST)) ? readJson<{ kind: string; alpha?: number }>(dir, MODEL_MANIFEST) : { kind: "lm" };
  if (manifest.kind === "guided") return withGuided(dir, manifest.alpha ?? 1, f);
  const m = await loadModel(dir);
  try {
    return await f({ lm: plainLanguageModel(m.params, m.config, m.tokenizer), scorer: lmTokenScorer(m.params, m.config, m.tokenizer), ...fitters(m.tokenizer, m.config.contextLength) });
  } finally {
    m.dispose();
  }
};

// ---------------------------------------------------------------- sample-and-label (METHOD.md §2)
/** NADO training data: token ids of each prompt (with BOS) and sampled continuation, its label C(x). */
export interface Samples {
  readonly prompts: number[][];
  /** samples[i] continues prompts[promptOf[i]]. */
  readonly promptOf: number[];
  readonly continuations: number[][];
  readonly texts: string[];
  readonly labels: number[];
  readonly temperature: number;
}

/**
 * K continuations per prompt from the model at temperature T, labelled by `label` (the oracle's
 * C on the continuation text — the part the toxicity evaluation classifies too).
 */
export const sampleAndLabelModel = async (
  m: Model, prompts: readonly string[],
  o: { k: number; temperature: number; maxNewTokens: number; seed: number; label: (texts: string[]) => number[]; onProgress: (done: number, total: number) => void },
): Promise<Samples> => {
  if (prompts.length === 0) throw new StageInputError({ stage: "sample", message: "the mix has no prompts (prompts.json is empty)" });
  const enc = prompts.map((p) => m.tokenizer.encode(p, { bos: true }));
  const promptOf = enc.flatMap((_, i) => Array.from({ length: o.k }, () => i));
  const continuations: number[][] = [];
  const chunk = 32;
  for (let s = 0; s < promptOf.length; s += chunk) {
    const idx = promptOf.slice(s, s + chunk);
    continuations.push(...generateIds(m.params, m.config, idx.map((i) => enc[i]), {
      maxNewTokens: o.maxNewTokens, temperature: o.temperature, seed: deriveSeed(o.seed, s), stopTokens: [m.tokenizer.eos], padId: m.tokenizer.pad,
    }));
    o.onProgress(Math.min(s + chunk, promptOf.length), promptOf.length);
  }
  const texts = continuations.map((c) => m.tokenizer.decode(c));
  return { prompts: enc, promptOf, continuations, texts, labels: o.label(texts), temperature: o.temperature };
};

// ---------------------------------------------------------------- NADO (METHOD.md §2–§3)
/** Train R_φ on the samples of `base` into `dir`: cold (head bias = logit of the mean label) or warm from `init`. */
export const trainNadoInto = async (dir: string, o: {
  base: Model; samples: Samples; init?: string; onProgress: (p: TrainProgress) => void;
  params: Training & { seed: number; beta: number; nLayers: number };
}): Promise<void> => {
  const s = o.samples;
  const data = s.continuations.map((c, i) => ({ prompt: s.prompts[s.promptOf[i]], continuation: c, label: s.labels[i] }));
  const nado = o.init ? await loadNado(o.init) : nadoFor(o.base.config, o.params.nLayers, s.labels, o.params.seed);
  try {
    await trainNado(nado, o.base, data, o.base.tokenizer.pad, { ...o.params, temperature: s.temperature, onProgress: o.onProgress });
    await saveNado(dir, nado);
    writeJson(dir, MODEL_MANIFEST, { kind: "nado", meanLabel: s.labels.reduce((a, b) => a + b, 0) / Math.max(1, s.labels.length) });
  } finally {
    disposeNado(nado);
  }
};

/**
 * The regulariser of METHOD.md §3 for trainLM: q_t from the frozen snapshot θ̄ (loaded from `snapshot`)
 * and R_φ; loss = regularisedLoss (ml/finetune.ts: LM cross-entropy + λ · Σ reg_t KL(q_t ‖ p_θ) / #tokens).
 */
const makeRegulariser = async (m: Model, r: { snapshot: string; nado: string; alpha: number }) => {
  const snap = await loadModel(r.snapshot);
  const nado = await loadNado(r.nado);
  return {
    loss: (b: TokenBatch, ids: tf.Tensor2D, mask: tf.Tensor2D, seed: number, lambda: number): tf.Scalar => {
      const N = b.B * b.T;
      const inputs = ids.slice([0, 0], [b.B, b.T]) as tf.Tensor2D;
      const targets = ids.slice([0, 1], [b.B, b.T]).reshape([N]) as tf.Tensor1D;
      const logits = lmForward(m.params, m.config, inputs, { training: m.config.dropout > 0, seed }).logits.reshape([N, -1]) as tf.Tensor2D;
      const qLogProbs = guidedForward(snap, nado, inputs, r.alpha).reshape([N, -1]) as tf.Tensor2D;
      return regularisedLoss(
        { logits, targets, tokenMask: mask.reshape([N]) as tf.Tensor1D, regMask: tf.tensor1d(b.reg), qLogProbs },
        lambda, (lg, tg, mk) => ops().softmaxCrossEntropy(lg, tg, mk),
      ).loss;
    },
    dispose: () => {
      snap.dispose();
      disposeNado(nado);
    },
  };
};

/** The NADO-guided model (base + φ, α) as the evaluations see it: sample from and score under q. */
const withGuided = async <A>(dir: string, alpha: number, f: (m: EvalModel) => Promise<A>): Promise<A> => {
  const base = await loadModel(join(dir, "base"));
  const nado = await loadNado(join(dir, "nado"));
  try {
    const tok = base.tokenizer, ctx = base.config.contextLength;
    const plain = plainLanguageModel(base.params, base.config, tok, { logitsProcessor: guidedLogitsProcessor(nado, alpha, tok.pad) });
    const lm: EvalLanguageModel = {
      generate: plain.generate,
      logLikelihood: async (reqs) => {
        const seqs = reqs.map((r) => {
          const cont = tok.encode(r.continuation);
          const all = [...tok.encode(r.context, { bos: true }), ...cont];
          return { seq: all.slice(Math.max(0, all.length - (ctx + 1))), n: cont.length };
        });
        const scored = guidedTokenLogProbs(base, nado, alpha, seqs.map((s) => s.seq));
        return scored.map(({ lp, greedy }, i) => {
          const n = seqs[i].n;
          return { logprob: lp.slice(lp.length - n).reduce((a, b) => a + b, 0), tokens: n, greedyMatch: greedy.slice(greedy.length - n).every(Boolean) };
        });
      },
    };
    const scorer: TokenScorer = { windowLength: ctx + 1, bos: tok.bos, encode: (t) => tok.encode(t), tokenLogProbs: (w) => guidedTokenLogProbs(base, nado, alpha, w).map((r) => r.lp) };
    return await f({ lm, scorer, ...fitters(tok, ctx) });
  } finally {
    base.dispose();
    disposeNado(nado);
  }
};
