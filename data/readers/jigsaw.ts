// Jigsaw Toxic Comment Classification (Kaggle 2018) train.csv layout:
// id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate (labels 0/1), RFC 4180
// quoting with embedded newlines. Two subsets are known (see docs/data.md): the 10k subset
// (whitespace-normalised, toxic-enriched) and the 267-row byte-original head.
import { Schema } from "effect";
import { DatasetReader, type LoadedDataset, type ReadOptions } from "../dataset.ts";
import { csvRecords } from "./lines.ts";

export const JIGSAW_FORMAT = 1;
export const JIGSAW_LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"] as const;
const HEADER = ["id", "comment_text", ...JIGSAW_LABELS];

const Flag = Schema.transform(Schema.Literal("0", "1"), Schema.Literal(0, 1), {
  strict: true,
  decode: (s) => (s === "1" ? 1 : 0),
  encode: (n) => (n === 1 ? "1" : "0"),
});

export const JigsawComment = Schema.Struct({
  id: Schema.String.pipe(Schema.pattern(/^[0-9a-zA-Z_-]+$/)),
  comment_text: Schema.String,
  toxic: Flag,
  severe_toxic: Flag,
  obscene: Flag,
  threat: Flag,
  insult: Flag,
  identity_hate: Flag,
});
export type JigsawComment = typeof JigsawComment.Type;

export const readJigsawFile = (name: string, file: string) => (dataDir: string, opts: ReadOptions = {}): LoadedDataset<JigsawComment> => {
  const r = new DatasetReader<JigsawComment>(name, dataDir, JIGSAW_FORMAT, opts);
  for (const { line, raw } of csvRecords(r, file, HEADER, "the comments file")) r.decode(JigsawComment, raw, file, line);
  return r.finish();
};

export const JIGSAW_10K_FILE = "jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv";
export const JIGSAW_HEAD_FILE = "jigsaw_toxic/practical_nlp_head267/train.csv";
export const readJigsaw = readJigsawFile("jigsaw", JIGSAW_10K_FILE);
export const readJigsawHead = readJigsawFile("jigsaw-head267", JIGSAW_HEAD_FILE);
