// WikiText-2: one paragraph per line, headings " = Title = ", lines begin (and end) with a space.
// Accepts the tokenized v1 files (train/valid/test.txt as in pytorch/examples, or wiki.*.tokens)
// and the raw files (wiki.*.raw). The tokenized form splits numbers with "@,@", "@.@", "@-@".
import { Schema } from "effect";
import { DatasetReader, splitLines, type LoadedDataset, type ReadOptions } from "../dataset.ts";
import { DatasetFileMissing } from "../errors.ts";

export const WIKITEXT_FORMAT = 1;
export const WIKITEXT_SPLITS = ["train", "valid", "test"] as const;
export type WikiSplit = (typeof WIKITEXT_SPLITS)[number];

export const WikiTextLine = Schema.Struct({
  split: Schema.Literal(...WIKITEXT_SPLITS),
  /** "tokens" = tokenized v1 (@-@ etc.), "raw" = wiki.*.raw */
  format: Schema.Literal("tokens", "raw"),
  /** The line without its newline (the leading space of the WikiText layout kept). */
  text: Schema.String.pipe(
    Schema.filter((s) => !/[\r\0]/.test(s) || "contains a carriage return or NUL byte"),
  ),
});
export type WikiTextLine = typeof WikiTextLine.Type;

/** Candidate file names per split, in order of preference. */
export const wikitextFiles = (split: WikiSplit): { path: string; format: "tokens" | "raw" }[] => [
  { path: `wikitext-2/${split}.txt`, format: "tokens" },
  { path: `wikitext-2/wiki.${split}.tokens`, format: "tokens" },
  { path: `wikitext-2/wiki.${split}.raw`, format: "raw" },
];

export const readWikiText = (dataDir: string, opts: ReadOptions = {}): LoadedDataset<WikiTextLine> => {
  const r = new DatasetReader<WikiTextLine>("wikitext-2", dataDir, WIKITEXT_FORMAT, opts);
  for (const split of WIKITEXT_SPLITS) {
    const found = wikitextFiles(split).find((f) => r.exists(f.path));
    if (found === undefined) {
      throw new DatasetFileMissing({ dataset: "wikitext-2", file: `${dataDir}/wikitext-2/${split}.txt`, reason: `no ${split} split (looked for ${wikitextFiles(split).map((f) => f.path).join(", ")})` });
    }
    const text = r.text(found.path);
    if (text === undefined || !r.hasLines(found.path, text, `the ${split} split`)) continue;
    splitLines(text).forEach((line, i) => r.decode(WikiTextLine, { split, format: found.format, text: line }, found.path, i + 1));
  }
  return r.finish();
};

/** Undo WikiText's number tokenization: "1 @,@ 000" -> "1,000", "state @-@ of" -> "state-of". */
export const detokenizeWikiText = (s: string): string => s.replace(/ @([-,.])@ /g, "$1");

/** The text of one split, lines joined by "\n" (the corpus an LM trains or is evaluated on). */
export const wikitextSplit = (ds: LoadedDataset<WikiTextLine>, split: WikiSplit): string =>
  ds.records.filter((l) => l.split === split).map((l) => l.text).join("\n");
