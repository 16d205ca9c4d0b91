// Commonsense reasoning, 0-shot: PIQA, ARC-Easy, ARC-Challenge, WinoGrande, with the prompt formats of
// lm-evaluation-harness (target delimiter " " between context and choice):
//   PIQA        "Question: {goal}\nAnswer:"      choices " {sol1}", " {sol2}"
//   ARC         "Question: {question}\nAnswer:"  choices " {text}" in file order, gold = answerKey's index
//   WinoGrande  partial scoring: for each option, context = sentence up to the blank with the option
//               filled in, continuation = " " + the rest of the sentence after the blank (trimmed);
//               both options score the SAME continuation, so acc_norm = acc there.
// The summary is the mean over the tasks present of acc and of acc_norm.

import { EvalTaskError, type EvalOptions } from "./batch.ts";
import { evaluateMultipleChoice, type MultipleChoiceResult, type MultipleChoiceTask } from "./multipleChoice.ts";
import type { ArcItem, EvalLanguageModel, PiqaItem, WinograndeItem } from "./types.ts";

export function piqaTask(items: readonly PiqaItem[]): MultipleChoiceTask<PiqaItem> {
  return {
    name: "piqa",
    items,
    requests: (it) => {
      const context = `Question: ${it.goal}\nAnswer:`;
      return [it.sol1, it.sol2].map((s) => ({ context, continuation: ` ${s}` }));
    },
    gold: (it) => it.label,
  };
}

export function arcTask(name: "arc_easy" | "arc_challenge", items: readonly ArcItem[]): MultipleChoiceTask<ArcItem> {
  return {
    name,
    items,
    requests: (it) => {
      const context = `Question: ${it.question}\nAnswer:`;
      return it.choices.map((c) => ({ context, continuation: ` ${c.text}` }));
    },
    gold: (it) => it.choices.findIndex((c) => c.label === it.answerKey),
  };
}

/** lm-eval's partial evaluation of WinoGrande (Sakaguchi et al.; Radford et al. 2019's trick). */
export function winograndeRequests(it: WinograndeItem, task = "winogrande") {
  const blank = it.sentence.indexOf("_");
  if (blank < 0) throw new EvalTaskError(task, `sentence has no "_" blank: ${JSON.stringify(it.sentence)}`);
  const continuation = " " + it.sentence.slice(blank + 1).trim();
  return [it.option1, it.option2].map((o) => ({ context: it.sentence.slice(0, blank) + o, continuation }));
}

export function winograndeTask(items: readonly WinograndeItem[]): MultipleChoiceTask<WinograndeItem> {
  return { name: "winogrande", items, requests: (it) => winograndeRequests(it), gold: (it) => Number(it.answer) - 1 };
}

export interface CommonsenseData {
  readonly piqa?: readonly PiqaItem[];
  readonly arcEasy?: readonly ArcItem[];
  readonly arcChallenge?: readonly ArcItem[];
  readonly winogrande?: readonly WinograndeItem[];
}

export interface CommonsenseResult {
  /** Mean acc over the tasks evaluated. */
  readonly commonsense: number;
  /** Mean acc_norm over the tasks evaluated. */
  readonly commonsense_norm: number;
  readonly tasks: Readonly<Record<string, { readonly n: number; readonly acc: number; readonly acc_norm: number }>>;
}

/** Runs every task whose items are given (and non-empty); at least one is required. */
export async function evaluateCommonsense(
  lm: EvalLanguageModel,
  data: CommonsenseData,
  opts: EvalOptions = {},
): Promise<CommonsenseResult> {
  const tasks: MultipleChoiceTask<never>[] = [];
  if (data.piqa?.length) tasks.push(piqaTask(data.piqa) as MultipleChoiceTask<never>);
  if (data.arcEasy?.length) tasks.push(arcTask("arc_easy", data.arcEasy) as MultipleChoiceTask<never>);
  if (data.arcChallenge?.length) tasks.push(arcTask("arc_challenge", data.arcChallenge) as MultipleChoiceTask<never>);
  if (data.winogrande?.length) tasks.push(winograndeTask(data.winogrande) as MultipleChoiceTask<never>);
  if (tasks.length === 0)
    throw new EvalTaskError("commonsense", "no task has items; pass at least one of piqa, arcEasy, arcChallenge, winogrande");
  const results: MultipleChoiceResult[] = [];
  for (const t of tasks) results.push(await evaluateMultipleChoice(lm, t, opts));
  const avg = (f: (r: MultipleChoiceResult) => number) => results.reduce((s, r) => s + f(r), 0) / results.length;
  return {
    commonsense: avg((r) => r.acc),
    commonsense_norm: avg((r) => r.acc_norm),
    tasks: Object.fromEntries(results.map((r) => [r.task, { n: r.n, acc: r.acc, acc_norm: r.acc_norm }])),
  };
}
