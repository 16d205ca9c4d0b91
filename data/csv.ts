// A small RFC 4180 CSV parser: quoted fields with "" escapes, embedded newlines, LF or CRLF rows.
// Every row carries the 1-based physical line it starts on, so readers can name it in errors.

export interface CsvRow {
  readonly line: number;
  readonly fields: readonly string[];
}

export class CsvSyntaxError {
  readonly _tag = "CsvSyntaxError";
  constructor(readonly line: number, readonly message: string) {}
}

/**
 * Parse all rows. A syntax error (unterminated quote, text after a closing quote) ends parsing:
 * the rows before it are returned with the error, since nothing after it can be delimited reliably.
 */
export const parseCsv = (text: string): { rows: CsvRow[]; error?: CsvSyntaxError } => {
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let rowLine = 1;
  let i = 0;
  const n = text.length;
  const endRow = () => {
    fields.push(field);
    rows.push({ line: rowLine, fields });
    fields = [];
    field = "";
  };
  while (i < n) {
    const c = text[i];
    if (c === '"' && field === "") {
      // quoted field: runs to the next lone quote
      const start = line;
      i += 1;
      for (;;) {
        if (i >= n) return { rows, error: new CsvSyntaxError(start, "unterminated quoted field") };
        const d = text[i];
        if (d === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i += 1;
          break;
        }
        if (d === "\n") line += 1;
        field += d;
        i += 1;
      }
      const after = text[i];
      if (i < n && after !== "," && after !== "\n" && after !== "\r") {
        return { rows, error: new CsvSyntaxError(line, `unexpected character ${JSON.stringify(after)} after a closing quote`) };
      }
      continue;
    }
    if (c === ",") { fields.push(field); field = ""; i += 1; continue; }
    if (c === "\r" && text[i + 1] === "\n") { i += 1; continue; }
    if (c === "\n") { endRow(); line += 1; rowLine = line; i += 1; continue; }
    field += c;
    i += 1;
  }
  if (field !== "" || fields.length > 0) endRow();
  return { rows };
};

/** Quote a field for writing when it needs it (comma, quote, CR or LF). */
export const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export const csvRow = (fields: readonly string[]): string => fields.map(csvField).join(",");
