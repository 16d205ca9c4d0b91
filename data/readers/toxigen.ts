// ToxiGen (microsoft/TOXIGEN): the demonstration-prompt files and the human-annotated CSV.
//
// prompts/{hate,neutral}_<group>_1k.txt: one GPT-3 prompt per line, 4-7 statements "- <statement>"
// joined by the LITERAL two characters backslash-n, ending in "\n-" (the open slot). Quirk: some
// 2024 files end the last statement in "-" with no "\n" before it; both endings are accepted.
//
// annotated/annotated_train.csv: header text,target_group,…,label,actual_method; `text` is a Python
// bytes literal b'…' / b"…" (decoded here as ast.literal_eval would, then as UTF-8).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { DatasetReader, splitLines, type LoadedDataset, type ReadOptions } from "../dataset.ts";
import { DatasetFileMissing } from "../errors.ts";
import { NonEmpty, csvRecords } from "./lines.ts";

export const TOXIGEN_PROMPTS_FORMAT = 1;
export const TOXIGEN_ANNOTATED_FORMAT = 1;

/** Files added by the 2024 community hackathon, not part of the paper's data. */
const LATER_ADDITIONS = new Set(["bisexual", "immigrant"]);

export const ToxiGenPrompt = Schema.Struct({
  group: NonEmpty,
  label: Schema.Literal("hate", "neutral"),
  /** true for the 27 files of the original 2022 release */
  original: Schema.Boolean,
  statements: Schema.NonEmptyArray(NonEmpty),
});
export type ToxiGenPrompt = typeof ToxiGenPrompt.Type;

const PROMPT_FILE = /^(hate|neutral)_(.+)_1k\.txt$/;

/** Split one prompt line into its statements, or say why it is not a prompt. */
export const parsePromptLine = (line: string): { statements: string[] } | { field: string; message: string } => {
  let body: string;
  if (line.endsWith("\\n-")) body = line.slice(0, -3);
  else if (line.endsWith("-") && line.startsWith("- ")) body = line.slice(0, -1);
  else return { field: "slot", message: 'prompt must end in the open slot "\\n-"' };
  // Quirks: hate_black has a statement ending in two literal backslashes before the separator
  // (file bytes "…staple\\\n- …", 654 lines); 54 lines of hate_lgbtq have a stray escaped separator
  // (file bytes "…families\\n\n- …"), i.e. an empty part. Empty parts are dropped, trailing backslashes trimmed.
  const parts = body.split("\\n").filter((p, i) => i === 0 || p !== "");
  const bad = parts.findIndex((p) => !p.startsWith("- "));
  if (bad >= 0) return { field: `statements.${bad}`, message: 'each statement must start with "- "' };
  return { statements: parts.map((p) => p.slice(2).replace(/\\+$/, "").trim()) };
};

export const readToxiGenPrompts = (dataDir: string, opts: ReadOptions = {}): LoadedDataset<ToxiGenPrompt> => {
  const r = new DatasetReader<ToxiGenPrompt>("toxigen-prompts", dataDir, TOXIGEN_PROMPTS_FORMAT, opts);
  const dir = "toxigen/prompts";
  if (!r.isDirectory(dir)) throw new DatasetFileMissing({ dataset: r.name, file: join(dataDir, dir), reason: "directory not found" });
  const files = readdirSync(join(dataDir, dir)).filter((f) => PROMPT_FILE.test(f)).sort();
  if (files.length === 0) throw new DatasetFileMissing({ dataset: r.name, file: join(dataDir, dir), reason: "no {hate,neutral}_<group>_1k.txt files" });
  for (const f of files) {
    const [, label, group] = PROMPT_FILE.exec(f)!;
    const file = `${dir}/${f}`;
    const text = r.text(file);
    if (text === undefined || !r.hasLines(file, text, `the ${label} prompts for ${group}`)) continue;
    splitLines(text).forEach((line, i) => {
      const p = parsePromptLine(line);
      if ("field" in p) r.reject({ file, line: i + 1, field: p.field, message: p.message });
      else r.decode(ToxiGenPrompt, { group, label, original: !LATER_ADDITIONS.has(group), statements: p.statements }, file, i + 1);
    });
  }
  return r.finish();
};

// ---------------------------------------------------------------------------------------------

const SIMPLE_ESCAPES: Record<string, number> = { "\\": 0x5c, "'": 0x27, '"': 0x22, n: 0x0a, r: 0x0d, t: 0x09, a: 0x07, b: 0x08, f: 0x0c, v: 0x0b };
const lenient = new TextDecoder("utf-8", { fatal: false });

/**
 * Decode a Python bytes literal b'…' or b"…" the way ast.literal_eval does (\\ \' \" \n \r \t
 * \xHH, unknown escapes kept verbatim), then the bytes as UTF-8 (invalid sequences → U+FFFD).
 */
export const decodeBytesLiteral = (lit: string): string | undefined => {
  const m = /^b(['"])([\s\S]*)\1$/.exec(lit);
  if (m === null) return undefined;
  const body = new TextEncoder().encode(m[2]);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== 0x5c || i + 1 >= body.length) { out.push(c); continue; }
    const e = String.fromCharCode(body[i + 1]);
    if (e in SIMPLE_ESCAPES) { out.push(SIMPLE_ESCAPES[e]); i += 1; continue; }
    const hex = String.fromCharCode(body[i + 2] ?? 0, body[i + 3] ?? 0);
    if (e === "x" && /^[0-9a-fA-F]{2}$/.test(hex)) { out.push(parseInt(hex, 16)); i += 3; continue; }
    out.push(c);
  }
  return lenient.decode(new Uint8Array(out));
};

const Score = Schema.NumberFromString.pipe(Schema.between(1, 5));

export const ToxiGenAnnotated = Schema.Struct({
  text: NonEmpty,
  target_group: NonEmpty,
  /** mean of 3 annotators' harm ratings, 1-5; > 3 is the human "toxic" judgement */
  toxicity_human: Score,
  toxicity_ai: Score,
  intent: Score,
  predicted_author: Schema.Literal("human", "ai"),
  /** label of the generating prompt (NOT the human judgement, see the dataset README) */
  label: Schema.Literal("hate", "neutral"),
  actual_method: Schema.Literal("TopK", "CBS"),
});
export type ToxiGenAnnotated = typeof ToxiGenAnnotated.Type;

const ANNOTATED_HEADER = ["text", "target_group", "factual?", "ingroup_effect", "lewd", "framing", "predicted_group", "stereotyping", "intent", "toxicity_ai", "toxicity_human", "predicted_author", "label", "actual_method"];

export const readToxiGenAnnotated = (dataDir: string, opts: ReadOptions = {}): LoadedDataset<ToxiGenAnnotated> => {
  const r = new DatasetReader<ToxiGenAnnotated>("toxigen-annotated", dataDir, TOXIGEN_ANNOTATED_FORMAT, opts);
  const file = "toxigen/annotated/annotated_train.csv";
  for (const { line, raw } of csvRecords(r, file, ANNOTATED_HEADER, "the annotated train split")) {
    const decoded = decodeBytesLiteral(raw.text);
    if (decoded === undefined) r.reject({ file, line, field: "text", message: "expected a Python bytes literal b'…' or b\"…\"" });
    else r.decode(ToxiGenAnnotated, { ...raw, text: decoded }, file, line);
  }
  return r.finish();
};
