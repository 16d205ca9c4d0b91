// MMLU, 5-shot, in the original prompt format of Hendrycks et al. (github.com/hendrycks/test,
// evaluate.py): a header naming the subject, k solved dev examples, then the question ending in
// "Answer:"; the prediction is the letter whose continuation " A" … " D" has the highest log-prob
// (the original read the top log-probs of the next token " A".." D"). Accuracy is averaged over
// subjects (docs/method.md §6; the original script printed the pooled figure, reported here as mmlu_micro).
//
// Two formulations are scored, as the OLMES standard does (Gu et al. 2024, "OLMES: A Standard for
// Language Model Evaluations"): the multiple-choice formulation (MCF) above, and the cloze formulation
// (CF) that small models need: the same header, shots written "Question: …\nAnswer: <answer text>",
// and each choice's text scored as the continuation of "Answer:", normalised per character (lm-eval's
// acc_norm, OLMES's choice for MMLU). `mmlu` is the better of the two (OLMES's rule, ties to MCF); both
// figures and their mean number of shots are reported, so a reader sees which one the model can use.
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
  if (includeAnswer) s += ` ${MMLU_LETTERS[checkedAnswer(item)]}\n\n`;
  return s;
}

const mmluHeader = (subject: string): string =>
  `The following are multiple choice questions (with answers) about ${formatSubject(subject)}.\n\n`;

/** Cloze (CF) example: "Question: q\nAnswer:" and, for shots, " <answer text>\n\n". */
export function formatMmluClozeExample(item: MmluItem, includeAnswer: boolean): string {
  let s = `Question: ${item.question}\nAnswer:`;
  if (includeAnswer) s += ` ${item.choices[checkedAnswer(item)]}\n\n`;
  return s;
}

function checkedAnswer(item: MmluItem): number {
  const a = mmluAnswerIndex(item.answer);
  if (!(a >= 0 && a < 4))
    throw new EvalTaskError("mmlu", `shot ${JSON.stringify(item.question.slice(0, 40))} (${item.subject}) has answer ${JSON.stringify(item.answer)}; expected A–D or 0–3`);
  return a;
}

/** Header + the first `k` dev examples of the subject + the test question (no answer). */
export function mmluPrompt(subject: string, dev: readonly MmluItem[], k: number, item: MmluItem, formulation: MmluFormulation = "mcf"): string {
  const example = formulation === "mcf" ? formatMmluExample : formatMmluClozeExample;
  let p = mmluHeader(subject);
  for (let i = 0; i < Math.min(k, dev.length); i++) p += example(dev[i], true);
  return p + example(item, false);
}

/** Header + every item with its answer: a practice page in the evaluation's own format (pretraining text). */
export function mmluPage(subject: string, items: readonly MmluItem[], formulation: MmluFormulation): string {
  const example = formulation === "mcf" ? formatMmluExample : formatMmluClozeExample;
  return mmluHeader(subject) + items.map((it) => example(it, true)).join("");
}

/** "mcf": the letter A–D after the listed choices (the original); "cf": the answer text itself (cloze). */
export type MmluFormulation = "mcf" | "cf";

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
  formulation: MmluFormulation = "mcf",
): MultipleChoiceTask<MmluItem> {
  const nShot = opts.nShot ?? 5;
  const devBySubject = new Map<string, MmluItem[]>();
  for (const d of dev) devBySubject.set(d.subject, [...(devBySubject.get(d.subject) ?? []), d]);
  return {
    name: formulation === "mcf" ? "mmlu" : "mmlu_cf",
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
      let prompt = mmluPrompt(item.subject, shots, k, item, formulation);
      while (opts.fits && k > 0 && !opts.fits(prompt)) prompt = mmluPrompt(item.subject, shots, --k, item, formulation);
      shotsUsed.set(i, k);
      return formulation === "mcf"
        ? MMLU_LETTERS.map((l) => ({ context: prompt, continuation: ` ${l}` }))
        : item.choices.map((c) => ({ context: prompt, continuation: ` ${c}` }));
    },
    gold: (item) => mmluAnswerIndex(item.answer),
    group: (item) => item.subject,
  };
}

export interface MmluResult {
  /** The better of the two formulations' macro accuracies (OLMES's rule; ties go to MCF). */
  readonly mmlu: number;
  /** Pooled accuracy of the formulation `mmlu` took. */
  readonly mmlu_micro: number;
  readonly formulation: MmluFormulation;
  /** Macro accuracy, multiple-choice formulation (letter A–D). */
  readonly mmlu_mcf: number;
  /** Macro accuracy, cloze formulation (answer text, per-character normalised). */
  readonly mmlu_cf: number;
  readonly n: number;
  /** Mean number of shots the MCF prompts kept (nShot unless the context forced fewer). */
  readonly meanShots: number;
  /** Mean number of shots the CF prompts kept. */
  readonly meanShotsCf: number;
  /** Per subject, of the formulation `mmlu` took. */
  readonly bySubject: Readonly<Record<string, { readonly n: number; readonly acc: number }>>;
}

const meanOf = (m: Map<number, number>): number => (m.size === 0 ? 0 : [...m.values()].reduce((a, b) => a + b, 0) / m.size);

export async function evaluateMmlu(
  lm: EvalLanguageModel,
  test: readonly MmluItem[],
  dev: readonly MmluItem[],
  opts: MmluOptions & EvalOptions = {},
): Promise<MmluResult> {
  const shotsMcf = new Map<number, number>();
  const shotsCf = new Map<number, number>();
  const mcf = await evaluateMultipleChoice(lm, mmluTask(test, dev, opts, shotsMcf, "mcf"), opts);
  const cf = await evaluateMultipleChoice(lm, mmluTask(test, dev, opts, shotsCf, "cf"), opts);
  const useCf = cf.accNormMacro > mcf.accMacro;
  const bySubject = Object.fromEntries(Object.entries((useCf ? cf : mcf).groups).map(([s, g]) => [s, { n: g.n, acc: useCf ? g.acc_norm : g.acc }]));
  return {
    mmlu: useCf ? cf.accNormMacro : mcf.accMacro,
    mmlu_micro: useCf ? cf.acc_norm : mcf.acc,
    formulation: useCf ? "cf" : "mcf",
    mmlu_mcf: mcf.accMacro,
    mmlu_cf: cf.accNormMacro,
    n: mcf.n,
    meanShots: meanOf(shotsMcf),
    meanShotsCf: meanOf(shotsCf),
    bySubject,
  };
}
