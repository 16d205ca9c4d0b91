// Multiple-choice evaluation, declared not coded (lm-evaluation-harness style): a task is items plus
// a prompt format that turns one item into one log-likelihood request per choice, the gold index, and
// optionally a group (MMLU subject) for macro-averaging. One function scores every such task.
//
// Scoring rule (lm-eval `multiple_choice`): ll_i = log p(continuation_i | context_i);
//   acc      = 1[argmax_i ll_i = gold]
//   acc_norm = 1[argmax_i ll_i / len_i = gold],  len_i = number of CHARACTERS of continuation_i
//              (lm-eval's acc_norm; by characters rather than tokens so that it does not depend on the
//              tokenizer and is comparable across models).
// argmax takes the first maximum (numpy's rule), so ties resolve to the lowest index.

import { EvalTaskError, scoreRequests, type EvalOptions } from "./batch.ts";
import type { EvalLanguageModel, LoglikelihoodRequest } from "./types.ts";

export interface MultipleChoiceTask<T> {
  readonly name: string;
  readonly items: readonly T[];
  /** One request per choice, in choice order. */
  requests(item: T, index: number): readonly LoglikelihoodRequest[];
  /** Index of the correct choice. */
  gold(item: T): number;
  /** Group for macro-averaging (e.g. the MMLU subject); absent = one group. */
  group?(item: T): string;
}

export interface ItemScore {
  readonly logprobs: readonly number[];
  readonly gold: number;
  readonly pred: number;
  readonly predNorm: number;
  readonly group: string;
}

export interface GroupResult {
  readonly n: number;
  readonly acc: number;
  readonly acc_norm: number;
}

export interface MultipleChoiceResult {
  readonly task: string;
  readonly n: number;
  /** Pooled over items (micro). */
  readonly acc: number;
  readonly acc_norm: number;
  /** Mean of per-group accuracies (macro); equals acc when there is one group. */
  readonly accMacro: number;
  readonly accNormMacro: number;
  readonly groups: Readonly<Record<string, GroupResult>>;
  readonly items: readonly ItemScore[];
}

/** First index of the maximum (numpy argmax). */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

export async function evaluateMultipleChoice<T>(
  lm: EvalLanguageModel,
  task: MultipleChoiceTask<T>,
  opts: EvalOptions = {},
): Promise<MultipleChoiceResult> {
  if (task.items.length === 0) throw new EvalTaskError(task.name, "has no items");
  // Flatten all choices of all items into one request list; remember where each item's choices sit.
  const perItem = task.items.map((item, i) => {
    const reqs = task.requests(item, i);
    const gold = task.gold(item);
    if (reqs.length < 2) throw new EvalTaskError(task.name, `item ${i} has ${reqs.length} choices (needs ≥ 2)`);
    if (!Number.isInteger(gold) || gold < 0 || gold >= reqs.length)
      throw new EvalTaskError(task.name, `item ${i}: gold index ${gold} is not in 0..${reqs.length - 1}`);
    return { reqs, gold, group: task.group?.(item) ?? task.name };
  });
  const flat = perItem.flatMap((p) => p.reqs);
  const lls = (await scoreRequests(lm, flat, task.name, opts)).map((r) => r.logprob);

  let offset = 0;
  const items: ItemScore[] = perItem.map(({ reqs, gold, group }) => {
    const logprobs = lls.slice(offset, offset + reqs.length);
    offset += reqs.length;
    // An empty continuation has length 0; normalise by max(len, 1) so it stays finite.
    const normed = logprobs.map((lp, k) => lp / Math.max(reqs[k].continuation.length, 1));
    return { logprobs, gold, pred: argmax(logprobs), predNorm: argmax(normed), group };
  });
  return summarise(task.name, items);
}

function summarise(task: string, items: readonly ItemScore[]): MultipleChoiceResult {
  const byGroup = new Map<string, ItemScore[]>();
  for (const it of items) {
    const g = byGroup.get(it.group) ?? [];
    g.push(it);
    byGroup.set(it.group, g);
  }
  const rate = (xs: readonly ItemScore[], key: "pred" | "predNorm") =>
    xs.filter((x) => x[key] === x.gold).length / xs.length;
  const groups: Record<string, GroupResult> = {};
  for (const [g, xs] of [...byGroup.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    groups[g] = { n: xs.length, acc: rate(xs, "pred"), acc_norm: rate(xs, "predNorm") };
  const gs = Object.values(groups);
  return {
    task,
    n: items.length,
    acc: rate(items, "pred"),
    acc_norm: rate(items, "predNorm"),
    accMacro: gs.reduce((s, g) => s + g.acc, 0) / gs.length,
    accNormMacro: gs.reduce((s, g) => s + g.acc_norm, 0) / gs.length,
    groups,
    items,
  };
}
