// Model directories, the one on-disk contract between stages:
//   plain LM    checkpoint.json + tensors.bin (ml/checkpoint.ts) + tokenizer.json + model.json {kind:"lm"}
//   NADO-guided model.json {kind:"guided", alpha} + base/ (a plain LM dir) + nado/ (a NADO dir)
// and the glue that trains them from mix examples with the ML core's one LM training driver (ml/finetune.ts).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { encodeExamples, type TextExample } from "../ml/batches.ts";
import { loadLM, saveLM } from "../ml/checkpoint.ts";
import { plainLanguageModel } from "../ml/languageModel.ts";
import type { EvalLanguageModel } from "../ml/eval/types.ts";
import { lmTokenScorer, type TokenScorer } from "../ml/eval/perplexity.ts";
import { disposeParams, initLM, lmVariables, type LMConfig, type LMParams } from "../ml/lm.ts";
import { finetuneLM, type FinetuneSettings, type RegulariserGuide } from "../ml/finetune.ts";
import { disposeLora, initLora, type LoraParams, type LoraSettings, mergeLora } from "../ml/lora.ts";
import { deriveSeed } from "../ml/prng.ts";
import { nadoLanguageModel, nadoTokenScorer } from "../ml/nado/guided.ts";
import { loadNadoCheckpoint, saveNadoCheckpoint } from "../ml/nado/checkpoint.ts";
import { nadoVariables, type NadoConfig, type NadoParams } from "../ml/nado/model.ts";
import { TOKENIZER_FILE, trainTokenizer, type TextTokenizer } from "../ml/tokenizer.ts";
import { tokenizerFromFiles } from "../ml/tokenizers/pretrained.ts";
import type { TrainProgress } from "../ml/train.ts";
import { checkpointHooks, readJson, readJsonl, StageInputError, writeJson } from "./common.ts";

export const MODEL_MANIFEST = "model.json";
export const GUIDED_MANIFEST = MODEL_MANIFEST;

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
export type Training = FinetuneSettings;

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
  readonly tokenizer: TextTokenizer;
  dispose(): void;
}

const makeModel = (config: LMConfig, params: LMParams, tokenizer: TextTokenizer): Model => ({
  config, params, tokenizer, dispose: () => disposeParams(lmVariables(params)),
});

/** The tokenizer saved in a model or tokenizer directory: acft's own, or a pretrained model's. */
export const readTokenizer = (dir: string): TextTokenizer =>
  tokenizerFromFiles((name) => (existsSync(join(dir, name)) ? readJson(dir, name) : undefined), join(dir, TOKENIZER_FILE));

export const writeTokenizer = (dir: string, tok: TextTokenizer): void => {
  for (const [name, json] of Object.entries(tok.files())) writeJson(dir, name, json);
};

export const trainTokenizerInto = (dir: string, texts: readonly string[], vocabSize: number, onProgress: (done: number, total: number) => void): void =>
  writeTokenizer(dir, trainTokenizer(texts, { vocabSize, onProgress }));

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
  writeTokenizer(dir, m.tokenizer);
  writeJson(dir, MODEL_MANIFEST, { kind: "lm", config: m.config });
};

/**
 * Train `m` in place on examples with ml/finetune.ts finetuneLM: LM cross-entropy on the target tokens,
 * plus λ · Σ reg_t KL(q_t ‖ p_θ) when `reg` is given, q_t from the frozen snapshot and NADO directories.
 * With `lora`, only a LoRA adapter trains; it is then merged into `m` and returned (the caller saves
 * and disposes it).
 */
export const trainLM = async (
  m: Model, examples: readonly (Example & TextExample)[], t: Training, seed: number,
  onProgress: (p: TrainProgress) => void,
  reg?: { readonly snapshot: string; readonly nado: string; readonly lambda: number; readonly alpha: number },
  /** Save the training state into `dir` every `every` steps and resume from it (stages: `checkpointing(ctx)`). */
  checkpoint?: { readonly dir: string; readonly every: number },
  /** Train only a LoRA adapter with these settings (the checkpoints then hold the adapter's state). */
  lora?: LoraSettings,
): Promise<LoraParams | undefined> => {
  const data = encodeExamples(m.tokenizer, examples);
  const guide = reg && reg.lambda > 0 ? await loadGuide(reg) : undefined;
  const adapter = lora && initLora(m.config, lora, deriveSeed(seed, 0x10a));
  try {
    await finetuneLM({
      params: m.params, config: m.config, data, pad: m.tokenizer.pad, seed, onProgress, lora: adapter,
      steps: t.steps, batchSize: t.batchSize, lr: t.lr, warmup: t.warmup, weightDecay: t.weightDecay, clipNorm: t.clipNorm,
      regulariser: guide && { guide: guide.guide, lambda: reg!.lambda },
      checkpoint: checkpointHooks(checkpoint, m.config),
    });
    if (adapter) mergeLora(m.params, adapter);
  } catch (e) {
    if (adapter) disposeLora(adapter);
    throw e;
  } finally {
    guide?.dispose();
  }
  return adapter;
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

const fitters = (tok: TextTokenizer, ctx: number) => ({
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

// ---------------------------------------------------------------- NADO directories (docs/method.md §2–§3)
// A NADO dir: a NADO checkpoint (ml/nado/checkpoint.ts) + model.json {kind:"nado"}.
export interface Nado { readonly params: NadoParams; readonly cfg: NadoConfig; dispose(): void }

export const saveNado = async (dir: string, n: { params: NadoParams; cfg: NadoConfig }, meta: Record<string, unknown> = {}): Promise<void> => {
  await saveNadoCheckpoint(dir, n, meta);
  writeJson(dir, MODEL_MANIFEST, { kind: "nado", ...meta });
};

export const loadNado = async (dir: string): Promise<Nado> => {
  const { params, cfg } = await loadNadoCheckpoint(dir);
  return { params, cfg, dispose: () => disposeParams(nadoVariables(params)) };
};

/** The frozen side of the regulariser (docs/method.md) from directories: the snapshot θ̄ and the NADO φ. */
const loadGuide = async (r: { snapshot: string; nado: string; alpha: number }): Promise<{ guide: RegulariserGuide; dispose(): void }> => {
  const snap = await loadModel(r.snapshot);
  const nado = await loadNado(r.nado);
  return {
    guide: { snapshot: snap.params, snapshotCfg: snap.config, nado: nado.params, nadoCfg: nado.cfg, alpha: r.alpha },
    dispose: () => {
      snap.dispose();
      nado.dispose();
    },
  };
};

/** The NADO-guided model (base + φ, α) as the evaluations see it (ml/nado/guided.ts): sampled from and scored under q. */
const withGuided = async <A>(dir: string, alpha: number, f: (m: EvalModel) => Promise<A>): Promise<A> => {
  const base = await loadModel(join(dir, "base"));
  const nado = await loadNado(join(dir, "nado"));
  try {
    const args = [base.params, base.config, nado.params, nado.cfg, base.tokenizer, { alpha }] as const;
    return await f({ lm: nadoLanguageModel(...args), scorer: nadoTokenScorer(...args), ...fitters(base.tokenizer, base.config.contextLength) });
  } finally {
    base.dispose();
    nado.dispose();
  }
};
