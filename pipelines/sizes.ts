// Named study sizes: every size-dependent stage param of the paper's pipelines in one place, so that
// `--size tiny|small|base` scales the whole study consistently. `tiny` is the smoke test (seconds per
// stage), `small` the default `npm start` run on the synthetic world (~15 min on 2 cores), `base` the
// real-data run. Budgets: SFT trains for `iterations × finetune.steps` steps, the same number of
// optimizer steps as the regularised runs, so the rows differ by the objective only.
import { Schema } from "effect";

export const SIZE_NAMES = ["tiny", "small", "base"] as const;
export const SizeName = Schema.Literal(...SIZE_NAMES);
export type SizeName = (typeof SIZE_NAMES)[number];

interface Arch { readonly dModel: number; readonly nLayers: number; readonly nHeads: number; readonly contextLength: number }
interface Train { readonly steps: number; readonly batchSize: number; readonly lr: number }

/** A size as written below; the judge's budget is derived from it (`judgeBudget`). */
type SizePreset = Omit<StudySize, "judgeArch" | "judge">;

export interface StudySize {
  readonly iterations: number;
  readonly synthetic: Readonly<Record<string, number>>;
  readonly mix: { readonly maxWords: number; readonly prompts: number };
  readonly tokenizer: { readonly vocabSize: number; readonly maxChars: number };
  readonly oracle: { readonly maxExamples: number; readonly epochs: number };
  readonly toxicityJudge: { readonly perSource: number; readonly steps: number; readonly batchSize: number; readonly lr: number };
  readonly arch: Arch;
  /** The win-rate judge's architecture and training: derived from `arch` and `pretrain` (`judgeBudget`). */
  readonly judgeArch: Arch;
  readonly pretrain: Train;
  readonly judge: Train;
  readonly finetune: Train;
  readonly sample: { readonly k: number; readonly maxNewTokens: number };
  readonly nado: Train & { readonly nLayers: number };
  readonly rl: { readonly steps: number; readonly lr: number; readonly k: number; readonly promptsPerStep: number; readonly maxNewTokens: number };
  readonly evalToxicity: { readonly prompts: number; readonly maxNewTokens: number };
  readonly evalMmlu: { readonly questions: number };
  readonly evalCommonsense: { readonly itemsPerTask: number };
  readonly evalPerplexity: { readonly maxChars: number };
  readonly jigsaw: Train & { readonly maxExamples: number; readonly testItems: number; readonly prompts: number; readonly maxChars: number };
}

const PRESETS: Readonly<Record<SizeName, SizePreset>> = {
  tiny: {
    iterations: 2,
    synthetic: { people: 40, cities: 20, forumComments: 300, promptsPerFile: 10, evalPrompts: 40, jigsawComments: 200, mmluTestPerSubject: 4, piqaItems: 20 },
    mix: { maxWords: 3000, prompts: 8 },
    tokenizer: { vocabSize: 300, maxChars: 20_000 },
    oracle: { maxExamples: 500, epochs: 2 },
    toxicityJudge: { perSource: 200, steps: 4, batchSize: 8, lr: 1e-3 },
    arch: { dModel: 16, nLayers: 1, nHeads: 2, contextLength: 48 },
    pretrain: { steps: 4, batchSize: 4, lr: 1e-3 },
    finetune: { steps: 2, batchSize: 4, lr: 5e-4 },
    sample: { k: 2, maxNewTokens: 6 },
    nado: { steps: 2, batchSize: 4, lr: 1e-3, nLayers: 1 },
    rl: { steps: 2, lr: 2e-4, k: 2, promptsPerStep: 2, maxNewTokens: 6 },
    evalToxicity: { prompts: 6, maxNewTokens: 6 },
    evalMmlu: { questions: 6 },
    evalCommonsense: { itemsPerTask: 6 },
    evalPerplexity: { maxChars: 1500 },
    jigsaw: { steps: 2, batchSize: 4, lr: 5e-4, maxExamples: 40, testItems: 20, prompts: 4, maxChars: 80 },
  },
  small: {
    iterations: 3,
    synthetic: {},
    mix: { maxWords: 40_000, prompts: 128 },
    tokenizer: { vocabSize: 1024, maxChars: 300_000 },
    oracle: { maxExamples: 20_000, epochs: 4 },
    toxicityJudge: { perSource: 3000, steps: 300, batchSize: 32, lr: 5e-4 },
    arch: { dModel: 64, nLayers: 2, nHeads: 2, contextLength: 64 },
    pretrain: { steps: 600, batchSize: 16, lr: 2e-3 },
    finetune: { steps: 100, batchSize: 12, lr: 1e-3 },
    sample: { k: 8, maxNewTokens: 32 },
    nado: { steps: 200, batchSize: 16, lr: 2e-3, nLayers: 1 },
    rl: { steps: 30, lr: 1e-4, k: 4, promptsPerStep: 4, maxNewTokens: 20 },
    evalToxicity: { prompts: 100, maxNewTokens: 32 },
    evalMmlu: { questions: 120 },
    evalCommonsense: { itemsPerTask: 120 },
    evalPerplexity: { maxChars: 20_000 },
    jigsaw: { steps: 40, batchSize: 12, lr: 1e-3, maxExamples: 1500, testItems: 200, prompts: 60, maxChars: 160 },
  },
  base: {
    iterations: 3,
    synthetic: {},
    mix: { maxWords: 300_000, prompts: 128 },
    tokenizer: { vocabSize: 2048, maxChars: 2_000_000 },
    oracle: { maxExamples: 20_000, epochs: 4 },
    toxicityJudge: { perSource: 8000, steps: 600, batchSize: 32, lr: 3e-4 },
    arch: { dModel: 128, nLayers: 4, nHeads: 4, contextLength: 128 },
    pretrain: { steps: 1500, batchSize: 16, lr: 1e-3 },
    finetune: { steps: 150, batchSize: 16, lr: 3e-4 },
    sample: { k: 8, maxNewTokens: 32 },
    nado: { steps: 300, batchSize: 16, lr: 1e-3, nLayers: 2 },
    rl: { steps: 100, lr: 1e-4, k: 4, promptsPerStep: 8, maxNewTokens: 32 },
    evalToxicity: { prompts: 400, maxNewTokens: 32 },
    evalMmlu: { questions: 1000 },
    evalCommonsense: { itemsPerTask: 500 },
    evalPerplexity: { maxChars: 200_000 },
    jigsaw: { steps: 150, batchSize: 16, lr: 3e-4, maxExamples: 4000, testItems: 500, prompts: 200, maxChars: 300 },
  },
};

/**
 * The win-rate judge must be a stronger language model than any model it judges, at every size and
 * whatever `arch` and the training budgets become, so its budget is a function of the base's: half as
 * many heads again at the base's head width (d_model × 1.5 for an even head count), one more block,
 * the same context up to JUDGE_MAX_CONTEXT tokens, and at least twice the base's pretraining steps — and at least as many as the
 * longest judged chain (pretraining, I fine-tuning rounds, RL), at the base's batch size and learning
 * rate, on clean general text only. The `winrate_judge` table shows the outcome as held-out perplexity.
 * The judge reads a prompt and its continuation (or one held-out paragraph), never a 5-shot MMLU
 * prompt, so its context is capped: training windows of the base's full length would multiply its
 * cost for nothing it is asked to do.
 */
export const JUDGE_MAX_CONTEXT = 128;

export const judgeBudget = (s: SizePreset): { readonly judgeArch: Arch; readonly judge: Train } => {
  const { arch, pretrain } = s;
  const headDim = arch.dModel / arch.nHeads;
  const nHeads = arch.nHeads + Math.ceil(arch.nHeads / 2);
  const longestJudged = pretrain.steps + s.iterations * s.finetune.steps + s.rl.steps;
  return {
    judgeArch: { dModel: headDim * nHeads, nLayers: arch.nLayers + 1, nHeads, contextLength: Math.min(arch.contextLength, JUDGE_MAX_CONTEXT) },
    judge: { ...pretrain, steps: Math.max(2 * pretrain.steps, longestJudged) },
  };
};

export const SIZES: Readonly<Record<SizeName, StudySize>> = Object.fromEntries(
  SIZE_NAMES.map((n) => [n, { ...PRESETS[n], ...judgeBudget(PRESETS[n]) }]),
) as Record<SizeName, StudySize>;
