// MMLU, 5-shot, in the original prompt format of Hendrycks et al. (github.com/hendrycks/test,
// evaluate.py): a header naming the subject, k solved dev examples, then the question ending in
// "Answer:"; the prediction is the letter whose continuation " A" … " D" has the highest log-prob
// (the original read the top log-probs of the next token " A".." D"). Accuracy is averaged over
// subjects (docs/method.md §6; the original script printed the pooled figure, reported here as mmlu_micro).
//
// Faithful quirk kept on purpose: the original `format_subject` prefixes every word with a space and
// the header inserts it after "about ", so the header reads "about  abstract algebra." (two spaces).

import { EvalTaskError, type EvalOptions } from "./batch.ts";
import { evaluateMultipleChoice, type MultipleChoiceTask } from "./multipleChoice.ts";
import type { EvalLanguageModel, MmluItem } from "./types.ts";

export const MMLU_LETTERS = ["A", "B", "C", "D"] as const;

/** Index 0–3 of an MMLU answer given as a letter or an index (−1 when it is neither). */
export function mmluAnswerIndex(answer: MmluItem["answer"]): number {
  return typeof answer === "number" ? answer : MMLU_LETTERS.indexOf(answer);
}

/** " abstract algebra" from "abstract_algebra" (the original's leading-space form). */
export function formatSubject(subject: string): string {
  return subject
    .split("_")
    .map((w) => " " + w)
    .join("");
}

/** One example block: question, lettered choices, "Answer:" and, for shots, " X\n\n". */
export function formatMmluExample(item: MmluItem, includeAnswer: boolean): string {
  let s = item.question;
  item.choices.forEach((c, j) => (s += `\n${MMLU_LETTERS[j]}. ${c}`));
  s += "\nAnswer:";
  if (includeAnswer) {
    const a = mmluAnswerIndex(item.answer);
    if (!(a >= 0 && a < 4))
      throw new EvalTaskError("mmlu", `shot ${JSON.stringify(item.question.slice(0, 40))} (${item.subject}) has answer ${JSON.stringify(item.answer)}; expected A–D or 0–3`);
    s += ` ${MMLU_LETTERS[a]}\n\n`;
  }
  return s;
}

/** Header + the first `k` dev examples of the subject + the test question (no answer). */
export function mmluPrompt(subject: string, dev: readonly MmluItem[], k: number, item: MmluItem): string {
  let p = `The following are multiple choice questions (with answers) about ${formatSubject(subject)}.\n\n`;
  for (let i = 0; i < Math.min(k, dev.length); i++) p += formatMmluExample(dev[i], true);
  return p + formatMmluExample(item, false);
}

export interface MmluOptions {
  /** Number of shots (default 5). */
  readonly nShot?: number;
  /**
   * Whether a prompt fits the model (e.g. its token count ≤ context length − 1). As in the original,
   * the number of shots is reduced one at a time until it fits (down to 0-shot).
   */
  readonly fits?: (prompt: string) => boolean;
}

/** Declares the MMLU task: `dev` supplies the shots per subject (its first nShot items, in file order). */
export function mmluTask(
  test: readonly MmluItem[],
  dev: readonly MmluItem[],
  opts: MmluOptions = {},
  /** Filled with the number of shots each test item's prompt kept (after dropping shots to fit). */
  shotsUsed: Map<number, number> = new Map(),
): MultipleChoiceTask<MmluItem> {
  const nShot = opts.nShot ?? 5;
  const devBySubject = new Map<string, MmluItem[]>();
  for (const d of dev) devBySubject.set(d.subject, [...(devBySubject.get(d.subject) ?? []), d]);
  return {
    name: "mmlu",
    items: test,
    requests(item, i) {
      const shots = devBySubject.get(item.subject) ?? [];
      if (nShot > 0 && shots.length < nShot)
        throw new EvalTaskError(
          "mmlu",
          `subject ${item.subject} (test item ${i}) has ${shots.length} dev examples; ${nShot}-shot needs ${nShot}. ` +
            "Pass the dev split for every test subject, or lower nShot.",
        );
      let k = nShot;
      let prompt = mmluPrompt(item.subject, shots, k, item);
      while (opts.fits && k > 0 && !opts.fits(prompt)) prompt = mmluPrompt(item.subject, shots, --k, item);
      shotsUsed.set(i, k);
      return MMLU_LETTERS.map((l) => ({ context: prompt, continuation: ` ${l}` }));
    },
    gold: (item) => mmluAnswerIndex(item.answer),
    group: (item) => item.subject,
  };
}

export interface MmluResult {
  /** Accuracy averaged over subjects. */
  readonly mmlu: number;
  /** Accuracy pooled over questions. */
  readonly mmlu_micro: number;
  readonly n: number;
  /** Mean number of shots the prompts kept (nShot unless the context forced fewer). */
  readonly meanShots: number;
  readonly bySubject: Readonly<Record<string, { readonly n: number; readonly acc: number }>>;
}

export async function evaluateMmlu(
  lm: EvalLanguageModel,
  test: readonly MmluItem[],
  dev: readonly MmluItem[],
  opts: MmluOptions & EvalOptions = {},
): Promise<MmluResult> {
  const shotsUsed = new Map<number, number>();
  const r = await evaluateMultipleChoice(lm, mmluTask(test, dev, opts, shotsUsed), opts);
  const bySubject = Object.fromEntries(Object.entries(r.groups).map(([s, g]) => [s, { n: g.n, acc: g.acc }]));
  const meanShots = shotsUsed.size === 0 ? 0 : [...shotsUsed.values()].reduce((a, b) => a + b, 0) / shotsUsed.size;
  return { mmlu: r.accMacro, mmlu_micro: r.acc, n: r.n, meanShots, bySubject };
}
