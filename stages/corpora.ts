// Data dir → the plain arrays the ML code takes. Every stage reads datasets through data/registry.ts;
// this module only picks fields, maps record types onto ml/eval's item types, and takes seeded subsets.
// Which dataset plays which role (docs/method.md §5–§6):
//   general corpus  WikiText-2 train paragraphs            (fine-tuning mix, pretraining, judge)
//   toxic domain    ToxiGen prompt-file statements          (fine-tuning mix: D_reg of the adaptive run)
//   oracle labels   one half of ToxiGen annotated, by a hash of the text (Jigsaw's training pool only when
//                   ToxiGen annotated is absent)   (the training oracle)
//   judge labels    the labelled texts the oracle does not use: Jigsaw's training pool, the other half of
//                   ToxiGen annotated, and the ToxiGen prompt files' statements labelled by file   (the
//                   evaluation judge)
//   web comments    ToxiGen annotated + Jigsaw's training pool   (pretraining, with the general corpus)
//   quiz pages      MMLU val questions as answered 5-shot pages, both formulations (pretraining, judge)
//   eval prompts    SafeNLP toxiGen.json statements          (toxicity evaluation, win rates), split by a
//                   hash of the text into validation (choosing settings) and test (reporting)
// Decontamination happens here, once: every reader of training text returns only texts that share no
// 13-gram with any evaluation item (`evalSets`, data/decontam.ts); the Jigsaw held-out pool is a fixed,
// data-level split that no training reader ever returns.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Effect } from "effect";
import { datasetPresent, loadDataset, type DatasetName, type DatasetRecords } from "../data/registry.ts";
import { classifierExamples, generalExamples, toxicDomainExamples, toxicityPromptSplit, toxicityPrompts, type PromptSplit } from "../data/corpora.ts";
import { decontaminate, NgramIndex, stableUnit, type EvalSet, type TrainSource } from "../data/decontam.ts";
import { arcTask, piqaTask, winograndeRequests } from "../ml/eval/commonsense.ts";
import { formatMmluExample, mmluPage } from "../ml/eval/mmlu.ts";
import type { ArcItem, LabelledText, LoglikelihoodRequest, MmluItem, PiqaItem, WinograndeItem } from "../ml/eval/types.ts";
import { makeRng, permutation } from "../ml/prng.ts";

const load = <K extends DatasetName>(name: K, dataDir: string): readonly DatasetRecords[K][] =>
  Effect.runSync(loadDataset(name, dataDir)).records;

/** Deterministic subset of at most n items (Fisher–Yates on a seeded PRNG), order preserved when n ≥ length. */
export const subset = <A>(xs: readonly A[], n: number, seed: number): A[] => {
  if (n >= xs.length) return [...xs];
  return permutation(xs.length, makeRng(seed)).slice(0, n).sort((a, b) => a - b).map((i) => xs[i]);
};

const paragraphs = (dataDir: string, split: "train" | "valid" | "test"): string[] =>
  generalExamples(Effect.runSync(loadDataset("wikitext-2", dataDir)), split);

/**
 * WikiText paragraphs of a split (headings and blank lines dropped, number tokenization undone). The
 * train split is training text: decontaminated; valid and test are evaluation text, returned whole.
 */
export const generalParagraphs = (dataDir: string, split: "train" | "valid" | "test"): string[] =>
  split === "train" ? decontaminated(dataDir, paragraphs(dataDir, "train")) : paragraphs(dataDir, split);

const rawToxicDomainLists = (dataDir: string): string[][] =>
  load("toxigen-prompts", dataDir).map((p) => p.statements.map((s) => s.trim()).filter((s) => s.length > 0)).filter((l) => l.length > 0);

/** The lists minus the statements `index` flags (lists left empty dropped). */
const cleanLists = (index: NgramIndex, lists: readonly string[][]): string[][] => {
  const keep = new Set(decontaminate(index, lists.flat(), (x) => x).kept);
  return lists.map((l) => l.filter((s) => keep.has(s))).filter((l) => l.length > 0);
};

/**
 * The lists of the ToxiGen prompt files — each line is a list of statements of one kind (hate or
 * neutral) — with every statement that overlaps an evaluation item removed (and lists left empty dropped).
 */
export const toxicDomainLists = (dataDir: string): string[][] => cleanLists(evalIndex(dataDir), rawToxicDomainLists(dataDir));

/** Statements of the ToxiGen prompt files (hate and neutral alike: the toxic *domain*). */
export const toxicDomainTexts = (dataDir: string): string[] => toxicDomainLists(dataDir).flat();

/** Statements of one list joined as a document: one statement per line, as the prompt files list them. */
export const STATEMENT_SEP = "\n";

const annotatedTexts = (dataDir: string): LabelledText[] => {
  if (!datasetPresent("toxigen-annotated", dataDir)) return [];
  const ds = Effect.runSync(loadDataset("toxigen-annotated", dataDir));
  const label = (only: "toxic" | "benign") => toxicDomainExamples(ds, only).map((text) => ({ text, label: only === "toxic" ? 1 : 0 }));
  return [...label("toxic"), ...label("benign")];
};

/** Share of ToxiGen's annotated texts that train the evaluation judge instead of the oracle. */
export const ANNOTATED_JUDGE_FRACTION = 0.5;
const ANNOTATED_SALT = "acft-toxigen-annotated-judge/v1";

/** Whether an annotated ToxiGen text is in the judge's half: a stable hash of its words, nothing else. */
export const inAnnotatedJudgeHalf = (text: string): boolean => stableUnit(text, ANNOTATED_SALT) < ANNOTATED_JUDGE_FRACTION;

/** "toxigen-annotated" is the oracle's half of ToxiGen annotated, "toxigen-annotated-judge" the judge's. */
type LabelledSource = "toxigen-annotated" | "toxigen-annotated-judge" | "jigsaw" | "toxigen-prompts";
export type SourcedText = LabelledText & { readonly source: LabelledSource };

const DATASET_OF: Readonly<Record<LabelledSource, DatasetName>> = {
  "toxigen-annotated": "toxigen-annotated", "toxigen-annotated-judge": "toxigen-annotated", jigsaw: "jigsaw", "toxigen-prompts": "toxigen-prompts",
};

/** A labelled source's texts, decontaminated (Jigsaw: its training pool only). */
const labelledSource = (src: LabelledSource, dataDir: string): SourcedText[] => {
  if (!datasetPresent(DATASET_OF[src], dataDir)) return [];
  const raw: LabelledText[] =
    src === "jigsaw" ? jigsawPools(dataDir).train
    : src === "toxigen-prompts" ? load("toxigen-prompts", dataDir).flatMap((p) => p.statements.map((s) => s.trim()).filter((s) => s.length > 0).map((text) => ({ text, label: p.label === "hate" ? 1 : 0 })))
    : annotatedTexts(dataDir).filter((t) => inAnnotatedJudgeHalf(t.text) === (src === "toxigen-annotated-judge"));
  return decontaminated(dataDir, raw, (t) => t.text).map((t) => ({ ...t, source: src }));
};

const oracleSources = (dataDir: string): LabelledSource[] =>
  datasetPresent("toxigen-annotated", dataDir) ? ["toxigen-annotated"] : datasetPresent("jigsaw", dataDir) ? ["jigsaw"] : [];

/**
 * Labelled texts for the training oracle: its half of ToxiGen annotated (toxic = mean human rating
 * > 3; the half is fixed by a hash of each text); the Jigsaw training pool (`toxic`) only when ToxiGen
 * annotated is absent. Decontaminated.
 */
export const oracleTexts = (dataDir: string): LabelledText[] =>
  oracleSources(dataDir).flatMap((src) => labelledSource(src, dataDir)).map(({ text, label }) => ({ text, label }));

/**
 * Labelled texts for the evaluation judge, each source capped at `perSource` (seeded subset): every
 * labelled source the oracle does not train on — the Jigsaw training pool, the judge's half of ToxiGen
 * annotated (human labels in the evaluation prompts' own domain), and the ToxiGen prompt files'
 * statements labelled by their file (the style of text the evaluated models continue). A text that
 * also occurs in the oracle's data is dropped, so the two never share a training text.
 */
export const judgeTexts = (dataDir: string, perSource: number, seed: number): SourcedText[] => {
  const taken = new Set(oracleSources(dataDir));
  const oracleSet = new Set(oracleTexts(dataDir).map((t) => t.text));
  return (["jigsaw", "toxigen-annotated-judge", "toxigen-prompts"] as const)
    .filter((src) => !taken.has(src))
    .flatMap((src) => subset(labelledSource(src, dataDir).filter((t) => !oracleSet.has(t.text)), perSource, seed));
};

/** The web's comments for pretraining: ToxiGen annotated (both halves) and the Jigsaw training pool, labels kept, decontaminated. */
export const commentTexts = (dataDir: string): LabelledText[] =>
  (["toxigen-annotated", "toxigen-annotated-judge", "jigsaw"] as const).flatMap((src) => labelledSource(src, dataDir)).map(({ text, label }) => ({ text, label }));

/** Share of the Jigsaw comments in the held-out pool (the classifier evaluation draws from it). */
export const JIGSAW_HELDOUT_FRACTION = 0.1;
const JIGSAW_POOL_SALT = "acft-jigsaw-heldout/v1";

/** Whether a Jigsaw comment is in the held-out pool: a stable hash of its words, nothing else. */
export const inJigsawHeldOut = (text: string): boolean => stableUnit(text, JIGSAW_POOL_SALT) < JIGSAW_HELDOUT_FRACTION;

const jigsawPools = (dataDir: string): { train: LabelledText[]; heldOut: LabelledText[] } => {
  if (!datasetPresent("jigsaw", dataDir)) return { train: [], heldOut: [] };
  const all: LabelledText[] = classifierExamples(Effect.runSync(loadDataset("jigsaw", dataDir)));
  return { train: all.filter((t) => !inJigsawHeldOut(t.text)), heldOut: all.filter((t) => inJigsawHeldOut(t.text)) };
};

/**
 * Jigsaw split. The held-out pool is fixed by the data (`inJigsawHeldOut`: ~10 % of the comments, by a
 * hash of each comment's words), whatever the seed or the study size; `test` is a seeded subset of
 * `testItems` of it (the classifier evaluation), `train` every other comment, decontaminated — the same
 * for every seed and `testItems`, and never a comment of the pool.
 */
export const jigsawSplit = (dataDir: string, testItems: number, seed: number): { train: LabelledText[]; test: LabelledText[] } => {
  const { train, heldOut } = jigsawPools(dataDir);
  return { train: decontaminated(dataDir, train, (t) => t.text), test: subset(heldOut, testItems, seed) };
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
export const mmluItems = (dataDir: string): { dev: MmluItem[]; test: MmluItem[]; val: MmluItem[] } => {
  const all = load("mmlu", dataDir).map((q) => ({ split: q.split, item: { subject: q.subject, question: q.question, choices: q.choices, answer: LETTERS.indexOf(q.answer) } }));
  const split = (s: string) => all.filter((q) => q.split === s).map((q) => q.item);
  return { dev: split("dev"), test: split("test"), val: split("val") };
};

const rawMmluVal = (dataDir: string): MmluItem[] => (datasetPresent("mmlu", dataDir) ? mmluItems(dataDir).val : []);
const mmluValUnit = (q: MmluItem): string => formatMmluExample(q, true);

/**
 * Practice pages for the pretraining text (the web's quiz pages): the MMLU val split's questions (none
 * asks a fact of a dev or test question), decontaminated one question at a time, cut per subject into
 * pages of `perPage` answered questions under the evaluation's header, once in each formulation.
 * Empty when the data dir has no val split.
 */
export const mmluPracticePages = (dataDir: string, perPage = 6): string[] => {
  const kept = decontaminated(dataDir, rawMmluVal(dataDir), mmluValUnit);
  const bySubject = new Map<string, MmluItem[]>();
  for (const q of kept) bySubject.set(q.subject, [...(bySubject.get(q.subject) ?? []), q]);
  return [...bySubject].flatMap(([subject, qs]) =>
    Array.from({ length: Math.ceil(qs.length / perPage) }, (_, i) => qs.slice(i * perPage, (i + 1) * perPage))
      .flatMap((page) => [mmluPage(subject, page, "mcf"), mmluPage(subject, page, "cf")]));
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

// ---- decontamination -----------------------------------------------------------------------------

/**
 * Every evaluation item of the data dir, per evaluation set, as decontamination compares them: the
 * toxicity prompts (all of SafeNLP), the Jigsaw held-out pool (all of it, not only the seeded test
 * subset), MMLU test questions and the commonsense tasks' items, and the WikiText valid and test
 * paragraphs (perplexity). A multiple-choice item is indexed as the evaluation shows it to the model
 * (ml/eval: the MMLU block with lettered choices; each PIQA/ARC "Question: …\nAnswer: <choice>"; each
 * WinoGrande sentence with an option filled in) and by its bare fields (the question alone, and the
 * question followed by its choices), so a copy in another layout is found too.
 */
export const evalSets = (dataDir: string): EvalSet[] => {
  const sets: EvalSet[] = [];
  const add = (name: string, present: boolean, items: () => EvalSet["items"]) => void (present && sets.push({ name, items: items() }));
  add("toxigen-safenlp", datasetPresent("toxigen-safenlp", dataDir), () => evalPrompts(dataDir));
  add("jigsaw-heldout", datasetPresent("jigsaw", dataDir), () => jigsawPools(dataDir).heldOut.map((t) => t.text));
  const shown = (reqs: readonly LoglikelihoodRequest[]) => reqs.map((r) => r.context + r.continuation);
  const bare = (q: string, choices: readonly string[]) => [q, [q, ...choices].join("\n")];
  add("mmlu-test", datasetPresent("mmlu", dataDir), () => mmluItems(dataDir).test.map((q) => [formatMmluExample(q, false), ...bare(q.question, q.choices)]));
  const cs = commonsenseItems(dataDir);
  add("piqa", cs.piqa !== undefined, () => cs.piqa!.map((p) => [...shown(piqaTask([p]).requests(p, 0)), ...bare(p.goal, [p.sol1, p.sol2])]));
  const arc = (items: readonly ArcItem[]) => items.map((a) => [...shown(arcTask("arc_easy", [a]).requests(a, 0)), ...bare(a.question, a.choices.map((c) => c.text))]);
  add("arc-easy-test", cs.arcEasy !== undefined, () => arc(cs.arcEasy!));
  add("arc-challenge-test", cs.arcChallenge !== undefined, () => arc(cs.arcChallenge!));
  add("winogrande", cs.winogrande !== undefined, () => cs.winogrande!.map((w) => shown(winograndeRequests(w))));
  add("wikitext-valid", datasetPresent("wikitext-2", dataDir), () => paragraphs(dataDir, "valid"));
  add("wikitext-test", datasetPresent("wikitext-2", dataDir), () => paragraphs(dataDir, "test"));
  return sets;
};

/** Size and mtime of every file under the data dir: a changed file rebuilds the cached index. */
const fingerprint = (dataDir: string): string =>
  (readdirSync(dataDir, { recursive: true }) as string[])
    .sort()
    .map((rel) => {
      const st = statSync(join(dataDir, rel));
      return st.isFile() ? `${rel}\0${st.size}\0${st.mtimeMs}` : "";
    })
    .join("\n");

const indexes = new Map<string, { fingerprint: string; index: NgramIndex }>();

/** The n-gram index of the data dir's evaluation items (built once per process and data dir content). */
export const evalIndex = (dataDir: string): NgramIndex => {
  const fp = fingerprint(dataDir);
  const hit = indexes.get(dataDir);
  if (hit !== undefined && hit.fingerprint === fp) return hit.index;
  const index = NgramIndex.build(evalSets(dataDir));
  indexes.set(dataDir, { fingerprint: fp, index });
  return index;
};

/**
 * Training texts of the data dir minus every one that shares an n-gram with an evaluation item of the
 * data dir. Every reader of training text goes through here; call it for any new one.
 */
export function decontaminated(dataDir: string, texts: readonly string[]): string[];
export function decontaminated<A>(dataDir: string, xs: readonly A[], text: (a: A) => string): A[];
export function decontaminated<A>(dataDir: string, xs: readonly A[], text?: (a: A) => string): A[] {
  return decontaminate(evalIndex(dataDir), xs, text ?? ((a) => a as unknown as string)).kept;
}

/**
 * The training sources of the data dir as the contamination report sees them: each reader's texts
 * (a paragraph, a statement, a comment: the unit decontamination keeps or drops) before
 * decontamination and after it. Add a source here for every new reader of training text.
 */
export const trainingSources = (dataDir: string): TrainSource[] => {
  const index = evalIndex(dataDir);
  const clean = (xs: readonly string[]) => decontaminate(index, xs, (x) => x).kept;
  const texts = (xs: readonly LabelledText[]) => xs.map((t) => t.text);
  const wiki = paragraphs(dataDir, "train");
  const lists = rawToxicDomainLists(dataDir), kept = cleanLists(index, lists);
  const annotated = texts(annotatedTexts(dataDir)), jigsaw = texts(jigsawPools(dataDir).train);
  const mmluVal = rawMmluVal(dataDir).map(mmluValUnit);
  return [
    { name: "mmlu-val", before: mmluVal, after: clean(mmluVal) },
    { name: "wikitext-train", before: wiki, after: clean(wiki) },
    { name: "toxigen-prompts", before: lists.flat(), after: kept.flat() },
    { name: "toxigen-annotated", before: annotated, after: clean(annotated) },
    { name: "jigsaw-train", before: jigsaw, after: clean(jigsaw) },
  ];
};
