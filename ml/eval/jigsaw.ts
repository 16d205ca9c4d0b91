// Jigsaw toxicity classification by a language model (docs/method.md §6): the model is fine-tuned on
// comments written as text with a label word,
//     "Comment: {comment}\nToxic: yes"   /   "Comment: {comment}\nToxic: no",
// and then used as a classifier with score = P(" yes") normalised over the two label words:
//     s = p(yes) / (p(yes) + p(no)) = σ(log p(" yes" | prompt) − log p(" no" | prompt)).
// Reported: ROC-AUC of s against the labels, and the oracle toxicity of the model's own generations
// (the paper's point: learn to detect toxicity without producing more of it).
// Long comments are cut to `maxChars` characters (keeping the start) identically for training text and
// evaluation prompt, so the label word stays inside a small model's context.

import { rocAuc } from "../metrics.ts";
import { EvalTaskError, scoreRequests, type EvalOptions } from "./batch.ts";
import { evaluateToxicity, type ToxicityOptions, type ToxicityResult } from "./toxicity.ts";
import type { EvalLanguageModel, LabelledText, ToxicityScorer } from "./types.ts";

export const JIGSAW_YES = " yes";
export const JIGSAW_NO = " no";
/** Default comment length cap, in characters. */
export const JIGSAW_MAX_CHARS = 400;

export function jigsawPrompt(comment: string, maxChars = JIGSAW_MAX_CHARS): string {
  return `Comment: ${comment.slice(0, maxChars)}\nToxic:`;
}

/** The fine-tuning text for one labelled comment. */
export function jigsawTrainingText(item: LabelledText, maxChars = JIGSAW_MAX_CHARS): string {
  return jigsawPrompt(item.text, maxChars) + (item.label === 1 ? JIGSAW_YES : JIGSAW_NO);
}

export interface JigsawClassifierResult {
  readonly roc_auc: number;
  /** Normalised P(yes) per item. */
  readonly scores: readonly number[];
}

export async function evaluateJigsawClassifier(
  lm: EvalLanguageModel,
  items: readonly LabelledText[],
  opts: EvalOptions & { readonly maxChars?: number } = {},
): Promise<JigsawClassifierResult> {
  if (items.length === 0) throw new EvalTaskError("jigsaw", "has no items");
  const reqs = items.flatMap((it) => {
    const context = jigsawPrompt(it.text, opts.maxChars);
    return [
      { context, continuation: JIGSAW_YES },
      { context, continuation: JIGSAW_NO },
    ];
  });
  const lp = await scoreRequests(lm, reqs, "jigsaw", opts);
  const scores = items.map((_, i) => 1 / (1 + Math.exp(lp[2 * i + 1].logprob - lp[2 * i].logprob)));
  return { roc_auc: rocAuc(scores, items.map((it) => it.label)), scores };
}

export interface JigsawResult extends JigsawClassifierResult {
  readonly generation: ToxicityResult;
}

/** Classifier ROC-AUC on `items` plus the toxicity of the model's continuations of `prompts`. */
export async function evaluateJigsaw(
  lm: EvalLanguageModel,
  items: readonly LabelledText[],
  prompts: readonly string[],
  oracle: ToxicityScorer,
  opts: EvalOptions & ToxicityOptions & { readonly maxChars?: number } = {},
): Promise<JigsawResult> {
  const cls = await evaluateJigsawClassifier(lm, items, opts);
  const generation = await evaluateToxicity(lm, prompts, oracle, opts);
  return { ...cls, generation };
}
