// Model directories, the one on-disk contract between stages:
//   plain LM    checkpoint.json + tensors.bin (ml/checkpoint.ts) + tokenizer.json + model.json {kind:"lm"}
//   NADO-guided model.json {kind:"guided", alpha} + base/ (a plain LM dir) + nado/ (a NADO dir)
// and the glue that trains them from mix examples with the ML core's one training loop.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { drawBatch, encodeExamples, type TextExample, type TokenBatch } from "../ml/batches.ts";
import { loadCheckpoint, loadLM, saveCheckpoint, saveLM, trainCheckpointHooks } from "../ml/checkpoint.ts";
import { plainLanguageModel } from "../ml/languageModel.ts";
import type { EvalLanguageModel } from "../ml/eval/types.ts";
import { lmTokenScorer, type TokenScorer } from "../ml/eval/perplexity.ts";
import { assignVariables, disposeParams, initLM, lmLoss, lmVariables, type LMConfig, type LMParams } from "../ml/lm.ts";
import { regularisedBatchLoss } from "../ml/finetune.ts";
import { nadoLanguageModel } from "../ml/nado/guided.ts";
import { initNado, nadoVariables, type NadoConfig, type NadoParams } from "../ml/nado/model.ts";
import { guidedTokenLogProbs } from "../ml/nado/score.ts";
import { CheckpointError } from "../ml/errors.ts";
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
  /** Save the training state into `dir` every `every` steps and resume from it (stages: `checkpointing(ctx)`). */
  checkpoint?: { readonly dir: string; readonly every: number },
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
      checkpoint: checkpoint ? trainCheckpointHooks(checkpoint.dir, checkpoint.every, m.config) : undefined,
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

// ---------------------------------------------------------------- NADO directories (METHOD.md §2–§3)
// A NADO dir: a checkpoint (ml/checkpoint.ts) whose config is the NadoConfig and whose params are the
// NADO variables (ml/nado/model.ts), meta.kind = "nado"; + model.json {kind:"nado"}.
export interface Nado { readonly params: NadoParams; readonly cfg: NadoConfig; dispose(): void }

export const saveNado = async (dir: string, n: { params: NadoParams; cfg: NadoConfig }, meta: Record<string, unknown> = {}): Promise<void> => {
  await saveCheckpoint(dir, { config: n.cfg, params: nadoVariables(n.params), meta: { kind: "nado", ...meta } });
  writeJson(dir, MODEL_MANIFEST, { kind: "nado", ...meta });
};

export const loadNado = async (dir: string): Promise<Nado> => {
  const d = await loadCheckpoint(dir);
  try {
    if (d.meta?.kind !== "nado") throw new CheckpointError({ path: dir, message: `${dir} is not a NADO checkpoint (meta.kind ${JSON.stringify(d.meta?.kind)}); pass the output of a nado stage` });
    const cfg = d.config as NadoConfig;
    const params = initNado(cfg, 0, 0);
    assignVariables(nadoVariables(params), d.params);
    return { params, cfg, dispose: () => disposeParams(nadoVariables(params)) };
  } finally {
    tf.dispose(Object.values(d.params));
  }
};

/**
 * The regulariser of METHOD.md §3 for trainLM: q_t = guidedLogProbs(θ̄'s logits, φ's z, α) from the
 * frozen snapshot and the NADO model; loss = regularisedBatchLoss (ml/finetune.ts), the function
 * finetuneRegularised uses too, on trainLM's batches (random windows, prompt masks) so that SFT and the
 * regularised runs see identical data.
 */
const makeRegulariser = async (m: Model, r: { snapshot: string; nado: string; alpha: number }) => {
  const snap = await loadModel(r.snapshot);
  const nado = await loadNado(r.nado);
  return {
    loss: (b: TokenBatch, ids: tf.Tensor2D, mask: tf.Tensor2D, seed: number, lambda: number): tf.Scalar => {
      const N = b.B * b.T;
      return regularisedBatchLoss(
        { params: m.params, cfg: m.config, training: m.config.dropout > 0, seed },
        { snapshot: snap.params, snapshotCfg: snap.config, nado: nado.params, nadoCfg: nado.cfg, alpha: r.alpha },
        {
          inputs: ids.slice([0, 0], [b.B, b.T]) as tf.Tensor2D,
          targets: ids.slice([0, 1], [b.B, b.T]).reshape([N]) as tf.Tensor1D,
          tokenMask: mask.reshape([N]) as tf.Tensor1D,
          regMask: tf.tensor1d(b.reg),
        },
        lambda,
      );
    },
    dispose: () => {
      snap.dispose();
      nado.dispose();
    },
  };
};

/**
 * The NADO-guided model (base + φ, α) as the evaluations see it: nadoLanguageModel (ml/nado/guided.ts)
 * samples from q; scoring and perplexity under q go through the batched guidedTokenLogProbs.
 */
const withGuided = async <A>(dir: string, alpha: number, f: (m: EvalModel) => Promise<A>): Promise<A> => {
  const base = await loadModel(join(dir, "base"));
  const nado = await loadNado(join(dir, "nado"));
  try {
    const tok = base.tokenizer, ctx = base.config.contextLength;
    const score = (seqs: readonly (readonly number[])[]) => guidedTokenLogProbs(base, nado.params, nado.cfg, alpha, seqs);
    const lm: EvalLanguageModel = {
      generate: nadoLanguageModel(base.params, base.config, nado.params, nado.cfg, tok, { alpha }).generate,
      logLikelihood: async (reqs) => {
        const seqs = reqs.map((r) => {
          const cont = tok.encode(r.continuation);
          const all = [...tok.encode(r.context, { bos: true }), ...cont];
          return { seq: all.slice(Math.max(0, all.length - (ctx + 1))), n: cont.length };
        });
        return score(seqs.map((s) => s.seq)).map(({ lp, greedy }, i) => {
          const n = seqs[i].n;
          return { logprob: lp.slice(lp.length - n).reduce((a, b) => a + b, 0), tokens: n, greedyMatch: greedy.slice(greedy.length - n).every(Boolean) };
        });
      },
    };
    const scorer: TokenScorer = { windowLength: ctx + 1, bos: tok.bos, encode: (t) => tok.encode(t), tokenLogProbs: (w) => score(w).map((r) => r.lp) };
    return await f({ lm, scorer, ...fitters(tok, ctx) });
  } finally {
    base.dispose();
    nado.dispose();
  }
};
