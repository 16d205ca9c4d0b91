// Multiple-choice commonsense sets, JSON Lines:
//   PIQA        piqa/valid.jsonl {goal, sol1, sol2} + piqa/valid-labels.lst (0 = sol1, 1 = sol2)
//   ARC         arc/ARC-{Easy,Challenge}/ARC-*-{Dev,Test}.jsonl {id, question:{stem, choices:[{text,label}]}, answerKey}
//   WinoGrande  winogrande/dev.jsonl {qID, sentence (with "_"), option1, option2, answer "1"|"2"} + dev-labels.lst
import { Schema } from "effect";
import { DatasetReader, type LoadedDataset, type ReadOptions } from "../dataset.ts";
import { NonEmpty, readJsonl, readLabels } from "./lines.ts";

export const CHOICE_FORMAT = 1;

/** Attach line-aligned labels to records read from a JSONL file; a length mismatch is a file error. */
const withLabels = <A>(r: DatasetReader<A>, jsonl: string, labelsFile: string, schema: Schema.Schema<A, any>, key: string, role: string): void => {
  const labels = readLabels(r, labelsFile);
  if (labels === undefined) return;
  readJsonl(r, jsonl, schema, role, (line) => ({ [key]: labels[line - 1] }));
  const text = r.text(jsonl);
  if (text === undefined) return; // not UTF-8: already reported, nothing to align
  const n = text.split(/\r?\n/).filter((l) => l.trim() !== "").length;
  if (n !== labels.length) r.reject({ file: labelsFile, line: 0, field: key, message: `${labels.length} labels for ${n} records in ${jsonl}; the files must align line by line` });
};

export const PiqaItem = Schema.Struct({
  goal: NonEmpty,
  sol1: Schema.String,
  sol2: Schema.String,
  label: Schema.transform(Schema.Literal("0", "1"), Schema.Literal(0, 1), { strict: true, decode: (s) => (s === "1" ? 1 : 0), encode: (n) => (n === 1 ? "1" : "0") }),
});
export type PiqaItem = typeof PiqaItem.Type;

export const readPiqa = (dataDir: string, opts: ReadOptions = {}): LoadedDataset<PiqaItem> => {
  const r = new DatasetReader<PiqaItem>("piqa", dataDir, CHOICE_FORMAT, opts);
  withLabels(r, "piqa/valid.jsonl", "piqa/valid-labels.lst", PiqaItem, "label", "the validation set");
  return r.finish();
};

export const ArcItem = Schema.Struct({
  id: NonEmpty,
  split: Schema.Literal("dev", "test"),
  question: Schema.Struct({
    stem: NonEmpty,
    choices: Schema.Array(Schema.Struct({ text: Schema.String, label: NonEmpty })).pipe(Schema.minItems(2)),
  }),
  answerKey: NonEmpty,
}).pipe(Schema.filter((a) => a.question.choices.some((c) => c.label === a.answerKey) || { path: ["answerKey"], message: "answerKey is not one of the choice labels" }));
export type ArcItem = typeof ArcItem.Type;

export const readArc = (variant: "Easy" | "Challenge") => (dataDir: string, opts: ReadOptions = {}): LoadedDataset<ArcItem> => {
  const r = new DatasetReader<ArcItem>(`arc-${variant.toLowerCase()}`, dataDir, CHOICE_FORMAT, opts);
  for (const [split, file] of [["dev", "Dev"], ["test", "Test"]] as const) {
    readJsonl(r, `arc/ARC-${variant}/ARC-${variant}-${file}.jsonl`, ArcItem, `the ${file} split`, () => ({ split }));
  }
  return r.finish();
};

export const WinoGrandeItem = Schema.Struct({
  qID: NonEmpty,
  sentence: Schema.String.pipe(Schema.filter((s) => s.includes("_") || 'sentence must contain the blank "_"')),
  option1: NonEmpty,
  option2: NonEmpty,
  answer: Schema.Literal("1", "2"),
  label: Schema.Literal("1", "2"),
}).pipe(Schema.filter((w) => w.answer === w.label || { path: ["answer"], message: "answer disagrees with dev-labels.lst" }));
export type WinoGrandeItem = typeof WinoGrandeItem.Type;

export const readWinoGrande = (dataDir: string, opts: ReadOptions = {}): LoadedDataset<WinoGrandeItem> => {
  const r = new DatasetReader<WinoGrandeItem>("winogrande", dataDir, CHOICE_FORMAT, opts);
  withLabels(r, "winogrande/dev.jsonl", "winogrande/dev-labels.lst", WinoGrandeItem, "label", "the dev set");
  return r.finish();
};
