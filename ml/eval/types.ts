// Small typed items the evaluations take, and the model interface they call.
// Evaluations receive plain arrays of these (the data readers and stage glue build them); they never
// read files. Every model variant (base LM, fine-tuned, RL policy, NADO-guided sampler, judge) meets
// the evaluations through ml/languageModel.ts's `LanguageModel` (re-exported as `EvalLanguageModel`);
// its `generate` returns continuations only. The tests implement it with a fake model whose
// log-probs they control, so every prompt format and choice rule is checked exactly.

export type {
  LanguageModel as EvalLanguageModel,
  LogLikelihoodRequest as LoglikelihoodRequest,
  LogLikelihoodResult as LoglikelihoodResult,
  TextGenerationOptions as GenerateOptions,
} from "../languageModel.ts";

type MaybePromise<T> = T | Promise<T>;

/** Anything that scores texts for toxicity in [0, 1] (the oracle in ml/classify.ts implements it). */
export interface ToxicityScorer {
  toxicity(texts: readonly string[]): MaybePromise<readonly number[]>;
}

/** Progress for long evaluations: `done` of `total` units (requests or prompts). */
export type OnProgress = (p: { readonly task: string; readonly done: number; readonly total: number }) => void;

// ---------------------------------------------------------------- dataset items

/** MMLU question; `answer` is the letter A–D (as in the CSVs) or its index 0–3. */
export interface MmluItem {
  readonly subject: string; // e.g. "abstract_algebra" (file-name form, underscores)
  readonly question: string;
  readonly choices: readonly [string, string, string, string];
  readonly answer: number | "A" | "B" | "C" | "D";
}

/** PIQA: goal + two solutions; `label` 0 or 1. */
export interface PiqaItem {
  readonly goal: string;
  readonly sol1: string;
  readonly sol2: string;
  readonly label: number;
}

/** ARC (Easy or Challenge): 3–5 labelled choices, `answerKey` one of the labels. */
export interface ArcItem {
  readonly question: string;
  readonly choices: readonly { readonly label: string; readonly text: string }[];
  readonly answerKey: string;
}

/** WinoGrande: a sentence with one "_" blank, two options, `answer` 1 or 2 (number or string, as in the jsonl). */
export interface WinograndeItem {
  readonly sentence: string;
  readonly option1: string;
  readonly option2: string;
  readonly answer: number | "1" | "2";
}

/** A text with a binary toxicity label (Jigsaw, ToxiGen annotated, synthetic). */
export interface LabelledText {
  readonly text: string;
  readonly label: number; // 1 = toxic, 0 = not
}
