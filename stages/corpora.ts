// Data dir → the plain arrays the ML code takes. Every stage reads datasets through data/registry.ts;
// this module only picks fields, maps record types onto ml/eval's item types, and takes seeded subsets.
// Which dataset plays which role (METHOD.md §5–§6):
//   general corpus  WikiText-2 train paragraphs            (fine-tuning mix, pretraining, judge)
//   toxic domain    ToxiGen prompt-file statements          (fine-tuning mix: D_reg of the adaptive run)
//   oracle labels   ToxiGen annotated (Jigsaw only when that is absent) (the training oracle)
//   judge labels    the labelled sources the oracle does not use: Jigsaw, and the ToxiGen prompt
//                   files' statements labelled by file (hate / neutral)   (the evaluation judge)
//   eval prompts    SafeNLP toxiGen.json statements          (toxicity evaluation, win rates), split by a
//                   hash of the text into validation (choosing settings) and test (reporting)
import { Effect } from "effect";
import { datasetPresent, loadDataset, type DatasetName, type DatasetRecords } from "../data/registry.ts";
import { classifierExamples, generalExamples, toxicDomainExamples, toxicityPromptSplit, toxicityPrompts, type PromptSplit } from "../data/corpora.ts";
import type { ArcItem, LabelledText, MmluItem, PiqaItem, WinograndeItem } from "../ml/eval/types.ts";
import { makeRng, permutation } from "../ml/prng.ts";

const load = <K extends DatasetName>(name: K, dataDir: string): readonly DatasetRecords[K][] =>
  Effect.runSync(loadDataset(name, dataDir)).records;

/** Deterministic subset of at most n items (Fisher–Yates on a seeded PRNG), order preserved when n ≥ length. */
export const subset = <A>(xs: readonly A[], n: number, seed: number): A[] => {
  if (n >= xs.length) return [...xs];
  return permutation(xs.length, makeRng(seed)).slice(0, n).sort((a, b) => a - b).map((i) => xs[i]);
};

/** WikiText paragraphs of a split (headings and blank lines dropped, number tokenization undone). */
export const generalParagraphs = (dataDir: string, split: "train" | "valid" | "test"): string[] =>
  generalExamples(Effect.runSync(loadDataset("wikitext-2", dataDir)), split);

/** The lists of the ToxiGen prompt files — each line is a list of statements of one kind (hate or neutral). */
export const toxicDomainLists = (dataDir: string): string[][] =>
  load("toxigen-prompts", dataDir).map((p) => p.statements.map((s) => s.trim()).filter((s) => s.length > 0)).filter((l) => l.length > 0);

/** Statements of the ToxiGen prompt files (hate and neutral alike: the toxic *domain*). */
export const toxicDomainTexts = (dataDir: string): string[] => toxicDomainLists(dataDir).flat();

/** Statements of one list joined as a document: one statement per line, as the prompt files list them. */
export const STATEMENT_SEP = "\n";

/** Labelled texts for the oracle: ToxiGen annotated (toxic = mean human rating > 3); Jigsaw `toxic` only when ToxiGen annotated is absent. */
export const oracleTexts = (dataDir: string): LabelledText[] => oracleSources(dataDir).flatMap((src) => labelledSource(src, dataDir));

type LabelledSource = "toxigen-annotated" | "jigsaw" | "toxigen-prompts";
export type SourcedText = LabelledText & { readonly source: LabelledSource };

const oracleSources = (dataDir: string): LabelledSource[] =>
  datasetPresent("toxigen-annotated", dataDir) ? ["toxigen-annotated"] : datasetPresent("jigsaw", dataDir) ? ["jigsaw"] : [];

const labelledSource = (src: LabelledSource, dataDir: string): SourcedText[] => {
  if (src === "jigsaw") return jigsawItems(dataDir).map((t) => ({ ...t, source: src }));
  if (src === "toxigen-prompts")
    return load("toxigen-prompts", dataDir).flatMap((p) => p.statements.map((s) => s.trim()).filter((s) => s.length > 0).map((text) => ({ text, label: p.label === "hate" ? 1 : 0, source: src })));
  const ds = Effect.runSync(loadDataset("toxigen-annotated", dataDir));
  return (["toxic", "benign"] as const).flatMap((only) => toxicDomainExamples(ds, only).map((text) => ({ text, label: only === "toxic" ? 1 : 0, source: src })));
};

/**
 * Labelled texts for the evaluation judge: every labelled source present that the oracle does not
 * train on (so the two never share a training text), each capped at `perSource` (seeded subset).
 */
export const judgeTexts = (dataDir: string, perSource: number, seed: number): SourcedText[] => {
  const taken = new Set(oracleSources(dataDir));
  const oracleSet = new Set(oracleTexts(dataDir).map((t) => t.text));
  return (["jigsaw", "toxigen-prompts"] as const)
    .filter((src) => !taken.has(src) && datasetPresent(src, dataDir))
    .flatMap((src) => subset(labelledSource(src, dataDir).filter((t) => !oracleSet.has(t.text)), perSource, seed));
};

export const jigsawItems = (dataDir: string): LabelledText[] => classifierExamples(Effect.runSync(loadDataset("jigsaw", dataDir)));

/** Jigsaw split: a seeded held-out set of `testItems` (the classifier evaluation), the rest for fine-tuning. */
export const jigsawSplit = (dataDir: string, testItems: number, seed: number): { train: LabelledText[]; test: LabelledText[] } => {
  const all = jigsawItems(dataDir);
  const test = new Set(subset(all.map((_, i) => i), testItems, seed));
  return { train: all.filter((_, i) => !test.has(i)), test: all.filter((_, i) => test.has(i)) };
};

/** A toxicity-evaluation prompt with the group(s) it targets (SafeNLP `target_groups`; may be several). */
export interface EvalPrompt { readonly text: string; readonly groups: readonly string[] }

/** Toxicity-evaluation prompts with their target groups: SafeNLP statements (Excel artefacts removed). */
export const evalPromptItems = (dataDir: string): EvalPrompt[] =>
  toxicityPrompts(Effect.runSync(loadDataset("toxigen-safenlp", dataDir)))
    .map((p) => ({ text: p.text.replace(/_x000D_/g, "").trim(), groups: p.groups }))
    .filter((p) => p.text.length > 0);

/** Toxicity-evaluation prompts: SafeNLP statements (Excel artefacts removed). */
export const evalPrompts = (dataDir: string): string[] => evalPromptItems(dataDir).map((p) => p.text);

/** The prompts of one half of the fixed validation/test split (data/corpora.ts toxicityPromptSplit), in file order. */
export const evalPromptSplit = (dataDir: string, split: PromptSplit): EvalPrompt[] =>
  evalPromptItems(dataDir).filter((p) => toxicityPromptSplit(p.text) === split);

const LETTERS = ["A", "B", "C", "D"] as const;
export const mmluItems = (dataDir: string): { dev: MmluItem[]; test: MmluItem[] } => {
  const all = load("mmlu", dataDir).map((q) => ({ split: q.split, item: { subject: q.subject, question: q.question, choices: q.choices, answer: LETTERS.indexOf(q.answer) } }));
  return { dev: all.filter((q) => q.split === "dev").map((q) => q.item), test: all.filter((q) => q.split === "test").map((q) => q.item) };
};

/** Commonsense tasks present in the data dir (the synthetic world has PIQA only). */
export const commonsenseItems = (dataDir: string) => {
  const arc = (name: "arc-easy" | "arc-challenge"): ArcItem[] | undefined =>
    datasetPresent(name, dataDir)
      ? load(name, dataDir).filter((a) => a.split === "test").map((a) => ({ question: a.question.stem, choices: a.question.choices, answerKey: a.answerKey }))
      : undefined;
  const piqa: PiqaItem[] | undefined = datasetPresent("piqa", dataDir) ? [...load("piqa", dataDir)] : undefined;
  const winogrande: WinograndeItem[] | undefined = datasetPresent("winogrande", dataDir)
    ? load("winogrande", dataDir).map((w) => ({ sentence: w.sentence, option1: w.option1, option2: w.option2, answer: Number(w.answer) }))
    : undefined;
  return { piqa, arcEasy: arc("arc-easy"), arcChallenge: arc("arc-challenge"), winogrande };
};
