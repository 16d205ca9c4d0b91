// SafeNLP toxiGen.json (microsoft/SafeNLP; the "revised ToxiGen" the Llama 2 paper evaluates on):
// ONE pretty-printed JSON array with CRLF line ends, elements
// {id, text, toxicity_score (1-5), label: "hate"|"neutral", target_groups: [..]}.
// The array is split into elements by a small scanner so that a bad element is reported with the
// line it starts on (JSON.parse of the whole file could only say "somewhere in the file").
import { Schema } from "effect";
import { DatasetReader, type LoadedDataset, type ReadOptions } from "../dataset.ts";

export const SAFENLP_FORMAT = 1;
export const SAFENLP_FILE = "toxigen/safenlp/toxiGen.json";

export const SafeNlpItem = Schema.Struct({
  id: Schema.Int.pipe(Schema.nonNegative()),
  /** may carry a leading space or Excel artefacts (_x000D_), kept as in the source */
  text: Schema.String,
  toxicity_score: Schema.Number.pipe(Schema.between(1, 5)),
  label: Schema.Literal("hate", "neutral"),
  target_groups: Schema.Array(Schema.String),
});
export type SafeNlpItem = typeof SafeNlpItem.Type;

export interface JsonElement {
  readonly line: number;
  readonly source: string;
}

/** Top-level elements of a JSON array with their starting lines; `error` if it is not a closed array. */
export const scanJsonArray = (text: string): { elements: JsonElement[]; error?: { line: number; message: string } } => {
  const elements: JsonElement[] = [];
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length && /\s/.test(text[i])) { if (text[i] === "\n") line++; i++; }
  if (text[i] !== "[") return { elements, error: { line, message: "expected a JSON array" } };
  let depth = 0;
  let start = -1;
  let startLine = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') { inString = true; if (depth === 1 && start < 0) { start = i; startLine = line; } continue; }
    if (c === "[" || c === "{") {
      if (depth === 1 && start < 0) { start = i; startLine = line; }
      depth++;
      continue;
    }
    if (c === "]" || c === "}" || c === ",") {
      if (depth === 1 && start >= 0 && c !== "}") { elements.push({ line: startLine, source: text.slice(start, i) }); start = -1; }
      if (c === "]" || c === "}") depth--;
      if (depth === 0) return { elements };
      continue;
    }
    if (depth === 1 && start < 0 && !/\s/.test(c)) { start = i; startLine = line; }
  }
  return { elements, error: { line: start >= 0 ? startLine : line, message: "JSON array is not closed" } };
};

export const readSafeNlp = (dataDir: string, opts: ReadOptions = {}): LoadedDataset<SafeNlpItem> => {
  const r = new DatasetReader<SafeNlpItem>("toxigen-safenlp", dataDir, SAFENLP_FORMAT, opts);
  const text = r.text(SAFENLP_FILE);
  if (text === undefined || !r.hasLines(SAFENLP_FILE, text, "the evaluation prompts")) return r.finish();
  const { elements, error } = scanJsonArray(text);
  if (elements.length === 0 && error === undefined) r.empty(SAFENLP_FILE, "an empty JSON array", "the evaluation prompts");
  for (const el of elements) {
    let value: unknown;
    try {
      value = JSON.parse(el.source);
    } catch (e) {
      r.reject({ file: SAFENLP_FILE, line: el.line, field: "json", message: `invalid JSON element: ${(e as Error).message}` });
      continue;
    }
    r.decode(SafeNlpItem, value, SAFENLP_FILE, el.line);
  }
  if (error) r.reject({ file: SAFENLP_FILE, line: error.line, field: "json", message: error.message });
  return r.finish();
};
