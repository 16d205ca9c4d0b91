// MMLU (hendrycks test): mmlu/{dev,val,test}/<subject>_<split>.csv, headerless CSV rows
// question,A,B,C,D,answer (answer a letter A-D); some files use CRLF. dev has 5 rows per subject
// (the 5-shot examples); val is optional (the synthetic world writes dev + test only).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { parseCsv } from "../csv.ts";
import { DatasetReader, type LoadedDataset, type ReadOptions } from "../dataset.ts";
import { DatasetFileMissing } from "../errors.ts";

export const MMLU_FORMAT = 1;
export const MMLU_SPLITS = ["dev", "val", "test"] as const;
export type MmluSplit = (typeof MMLU_SPLITS)[number];

export const MmluQuestion = Schema.Struct({
  subject: Schema.String.pipe(Schema.pattern(/^[a-z0-9_]+$/)),
  split: Schema.Literal(...MMLU_SPLITS),
  question: Schema.String,
  choices: Schema.Tuple(Schema.String, Schema.String, Schema.String, Schema.String),
  answer: Schema.Literal("A", "B", "C", "D"),
});
export type MmluQuestion = typeof MmluQuestion.Type;

export const readMmlu = (dataDir: string, opts: ReadOptions = {}): LoadedDataset<MmluQuestion> => {
  const r = new DatasetReader<MmluQuestion>("mmlu", dataDir, MMLU_FORMAT, opts);
  for (const split of MMLU_SPLITS) {
    const dir = `mmlu/${split}`;
    if (!r.isDirectory(dir)) {
      if (split === "val") continue;
      throw new DatasetFileMissing({ dataset: "mmlu", file: join(dataDir, dir), reason: "directory not found" });
    }
    const suffix = `_${split}.csv`;
    const files = readdirSync(join(dataDir, dir)).filter((f) => f.endsWith(suffix)).sort();
    if (files.length === 0 && split !== "val") r.empty(dir, `no <subject>${suffix} files`, `the ${split} split`);
    for (const f of files) {
      const file = `${dir}/${f}`;
      const subject = f.slice(0, -suffix.length);
      const text = r.text(file);
      if (text === undefined || !r.hasLines(file, text, `the ${split} questions of ${subject}`)) continue;
      const { rows, error } = parseCsv(text);
      for (const row of rows) {
        if (row.fields.length !== 6) {
          r.reject({ file, line: row.line, field: "record", message: `expected 6 columns (question,A,B,C,D,answer), found ${row.fields.length}` });
          continue;
        }
        const [question, a, b, c, d, answer] = row.fields;
        r.decode(MmluQuestion, { subject, split, question, choices: [a, b, c, d], answer }, file, row.line);
      }
      if (error) r.reject({ file, line: error.line, field: "csv", message: error.message });
    }
  }
  return r.finish();
};

/** Subjects in file order, and the questions of one (subject, split). */
export const mmluSubjects = (ds: LoadedDataset<MmluQuestion>): string[] => [...new Set(ds.records.map((q) => q.subject))].sort();
export const mmluQuestions = (ds: LoadedDataset<MmluQuestion>, subject: string, split: MmluSplit): MmluQuestion[] =>
  ds.records.filter((q) => q.subject === subject && q.split === split);
