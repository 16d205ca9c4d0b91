// Helpers shared by the line-oriented readers: JSON Lines and one-label-per-line files.
import { Schema } from "effect";
import { parseCsv } from "../csv.ts";
import { splitLines, type DatasetReader } from "../dataset.ts";

/**
 * Decode every non-empty line of a JSONL file through `schema` (with `extra` merged in). A file with
 * no non-blank line is empty (`role`: what it is for the dataset, e.g. "the Test split").
 */
export const readJsonl = <A, I>(
  r: DatasetReader<A>,
  file: string,
  schema: Schema.Schema<A, I>,
  role: string,
  extra: (line: number) => Record<string, unknown> = () => ({}),
): void => {
  const text = r.text(file);
  if (text === undefined || !r.hasLines(file, text, role)) return;
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

/**
 * Rows of a CSV file whose first row must be exactly `header`, as header → cell objects with their
 * start line. A wrong header, a wrong column count or a CSV syntax error is rejected (file, line);
 * a file with no rows after the header is empty (`role`: what it is for the dataset).
 */
export const csvRecords = <A>(r: DatasetReader<A>, file: string, header: readonly string[], role: string): { line: number; raw: Record<string, string> }[] => {
  const text = r.text(file);
  if (text === undefined || !r.hasLines(file, text, role)) return [];
  const { rows, error } = parseCsv(text);
  if ((rows[0]?.fields ?? []).join(",") !== header.join(",")) {
    r.reject({ file, line: 1, field: "header", message: `expected header ${header.join(",")}` });
    return [];
  }
  if (rows.length === 1 && error === undefined) r.empty(file, "a header and no rows", role);
  const out: { line: number; raw: Record<string, string> }[] = [];
  for (const row of rows.slice(1)) {
    if (row.fields.length !== header.length) r.reject({ file, line: row.line, field: "record", message: `expected ${header.length} columns, found ${row.fields.length}` });
    else out.push({ line: row.line, raw: Object.fromEntries(header.map((h, i) => [h, row.fields[i]])) });
  }
  // rows before a syntax error are still decoded (strict mode fails at the first bad one anyway)
  if (error) r.reject({ file, line: error.line, field: "csv", message: error.message });
  return out;
};
