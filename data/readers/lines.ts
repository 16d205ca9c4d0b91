// Helpers shared by the line-oriented readers: JSON Lines and one-label-per-line files.
import { Schema } from "effect";
import { splitLines, type DatasetReader } from "../dataset.ts";

/** Decode every non-empty line of a JSONL file through `schema` (with `extra` merged in). */
export const readJsonl = <A, I>(
  r: DatasetReader<A>,
  file: string,
  schema: Schema.Schema<A, I>,
  extra: (line: number) => Record<string, unknown> = () => ({}),
): void => {
  const text = r.text(file);
  if (text === undefined) return;
  splitLines(text).forEach((raw, i) => {
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      r.reject({ file, line: i + 1, field: "json", message: `invalid JSON: ${(e as Error).message}` });
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      r.reject({ file, line: i + 1, field: "record", message: "expected a JSON object" });
      return;
    }
    r.decode(schema, { ...value, ...extra(i + 1) }, file, i + 1);
  });
};

/** Lines of a labels file (e.g. PIQA's valid-labels.lst), trimmed; undefined when unreadable. */
export const readLabels = <A>(r: DatasetReader<A>, file: string): string[] | undefined => {
  const text = r.text(file);
  return text === undefined ? undefined : splitLines(text).map((s) => s.trim());
};

/** A string that is not empty after trimming. */
export const NonEmpty = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0 || "must not be empty"));
