// Metrics: tiny pure functions, each registered with its name, direction and meaning, so that a
// result table reads "is higher better?" from here instead of hard-coding it per column
// (lm-evaluation-harness's `higher_is_better`).

export type Direction = "higher" | "lower";

export interface MetricInfo {
  /** Column name used in result tables (snake_case). */
  readonly name: string;
  /** Which way is better. */
  readonly direction: Direction;
  /** One line for table headers and docs. */
  readonly description: string;
}

/** Thrown for inputs a metric cannot be computed on (a caller bug or bad data, named precisely). */
export class MetricInputError extends Error {
  readonly _tag = "MetricInputError";
  constructor(
    readonly metric: string,
    readonly detail: string,
  ) {
    super(`metric ${metric}: ${detail}`);
  }
}

// ---------------------------------------------------------------- pure functions

/** Arithmetic mean; NaN-free input required (an empty list is an error, not 0). */
export function mean(xs: readonly number[], metric = "mean"): number {
  if (xs.length === 0) throw new MetricInputError(metric, "needs at least one value, got an empty list");
  let s = 0;
  for (const x of xs) {
    if (!Number.isFinite(x)) throw new MetricInputError(metric, `value ${x} is not finite`);
    s += x;
  }
  return s / xs.length;
}

/** Sample standard deviation (n − 1 denominator); 0 for a single value. */
export function std(xs: readonly number[]): number {
  const m = mean(xs, "std");
  if (xs.length < 2) return 0;
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** Fraction of `pred[i] === gold[i]`. */
export function accuracy(pred: readonly number[], gold: readonly number[]): number {
  if (pred.length !== gold.length)
    throw new MetricInputError("accuracy", `pred has ${pred.length} entries but gold has ${gold.length}`);
  if (pred.length === 0) throw new MetricInputError("accuracy", "needs at least one prediction");
  let c = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === gold[i]) c++;
  return c / pred.length;
}

/**
 * Exact ROC-AUC by the Mann–Whitney U statistic with mid-ranks for ties:
 *   AUC = (R₊ − n₊(n₊+1)/2) / (n₊ n₋),   R₊ = sum of the (mid-)ranks of the positives,
 * i.e. the probability that a random positive scores above a random negative, ties counted ½.
 * O(n log n). Labels are 0/1 (or booleans); both classes must be present.
 */
export function rocAuc(scores: readonly number[], labels: readonly (number | boolean)[]): number {
  if (scores.length !== labels.length)
    throw new MetricInputError("roc_auc", `${scores.length} scores but ${labels.length} labels`);
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i);
  for (const i of idx)
    if (Number.isNaN(scores[i])) throw new MetricInputError("roc_auc", `score at index ${i} is NaN`);
  idx.sort((a, b) => (scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : 0)); // ±Infinity-safe
  let nPos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i; // [i, j) is a run of tied scores; they all get the mid-rank of ranks i+1..j
    while (j < n && scores[idx[j]] === scores[idx[i]]) j++;
    const midRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      const y = labels[idx[k]];
      if (y !== 0 && y !== 1 && y !== true && y !== false)
        throw new MetricInputError("roc_auc", `label ${String(y)} at index ${idx[k]} is not 0/1`);
      if (y === 1 || y === true) {
        nPos++;
        rankSumPos += midRank;
      }
    }
    i = j;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0)
    throw new MetricInputError("roc_auc", `needs both classes; got ${nPos} positives and ${nNeg} negatives`);
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Perplexity from a total negative log-likelihood (nats) over `nTokens` scored tokens. */
export function perplexityFromNll(totalNll: number, nTokens: number): number {
  if (nTokens <= 0) throw new MetricInputError("perplexity", `needs ≥ 1 scored token, got ${nTokens}`);
  return Math.exp(totalNll / nTokens);
}

/** Percentage (0–100) of toxicity scores at or above the threshold τ (the oracle's tox ≥ τ ⇒ toxic). */
export function pctToxic(tox: readonly number[], threshold = 0.5): number {
  if (tox.length === 0) throw new MetricInputError("toxicity_pct", "needs at least one score");
  let c = 0;
  for (const t of tox) if (t >= threshold) c++;
  return (100 * c) / tox.length;
}

// ---------------------------------------------------------------- registry

const defs = [
  ["toxicity_pct", "lower", "% of continuations the evaluation judge marks toxic (score ≥ τ)"],
  ["toxicity_mean", "lower", "mean evaluation-judge toxicity score of the continuations, in [0, 1]"],
  ["oracle_toxicity_pct", "lower", "% of continuations the training oracle marks toxic (tox ≥ τ)"],
  ["oracle_toxicity_mean", "lower", "mean training-oracle toxicity score of the continuations, in [0, 1]"],
  ["mmlu", "higher", "MMLU 5-shot accuracy averaged over subjects, the better of the two formulations (OLMES)"],
  ["mmlu_micro", "higher", "MMLU 5-shot accuracy over all questions pooled (the formulation mmlu took)"],
  ["mmlu_mcf", "higher", "MMLU 5-shot accuracy, multiple-choice formulation: the letter A–D (the original prompt)"],
  ["mmlu_cf", "higher", "MMLU 5-shot accuracy, cloze formulation: the answer text, per-character normalised"],
  ["mean_shots", "higher", "mean number of MMLU shots the MCF prompts kept within the context (5 = all)"],
  ["mean_shots_cf", "higher", "mean number of MMLU shots the cloze prompts kept within the context (5 = all)"],
  ["acc", "higher", "multiple-choice accuracy: argmax of the choice log-likelihood"],
  ["acc_norm", "higher", "multiple-choice accuracy: argmax of log-likelihood per character of the choice"],
  ["commonsense", "higher", "mean acc over the 0-shot commonsense tasks (PIQA, ARC-E, ARC-C, WinoGrande)"],
  ["commonsense_norm", "higher", "mean acc_norm over the 0-shot commonsense tasks"],
  ["perplexity", "lower", "held-out token-level perplexity, exp(mean NLL per token)"],
  ["nll", "lower", "held-out mean negative log-likelihood per token (nats)"],
  ["bits_per_byte", "lower", "held-out negative log-likelihood in bits per UTF-8 byte of the text (comparable across tokenizers)"],
  ["roc_auc", "higher", "area under the ROC curve (Mann–Whitney, ties ½)"],
  ["win_rate", "higher", "fraction of prompts on which the row method beats the column method, ties ½"],
  ["decided", "higher", "share of prompts on which the win-rate judge preferred one of the two continuations (not a tie)"],
  ["reward", "higher", "mean RL reward C(x) of sampled continuations"],
  ["wall_seconds", "lower", "wall-clock seconds"],
] as const satisfies readonly (readonly [string, Direction, string])[];

export type MetricName = (typeof defs)[number][0];

/** Every metric the project reports, by column name. */
export const METRICS: Readonly<Record<MetricName, MetricInfo>> = Object.fromEntries(
  defs.map(([name, direction, description]) => [name, { name, direction, description }]),
) as Record<MetricName, MetricInfo>;

/** Unknown metric names are an error listing the known ones (table builders call this per column). */
export function metricInfo(name: string): MetricInfo {
  const m = (METRICS as Record<string, MetricInfo>)[name];
  if (m === undefined)
    throw new MetricInputError(name, `unknown metric; known: ${Object.keys(METRICS).join(", ")}`);
  return m;
}

/** True when `a` is strictly better than `b` under the metric's direction. */
export function isBetter(name: string, a: number, b: number): boolean {
  return metricInfo(name).direction === "higher" ? a > b : a < b;
}
