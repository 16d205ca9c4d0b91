// Typed errors of the data layer. Each says what went wrong, where (file, line, field) and what to do.
import { Data } from "effect";

const count = (n: number): string => n.toLocaleString("en-US");

/** Cut a string to `max` UTF-16 units without splitting a surrogate pair. */
const cut = (s: string, max: number): string => {
  const end = max > 0 && s.charCodeAt(max - 1) >= 0xd800 && s.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return s.slice(0, end);
};

/**
 * A value as it may appear in a message: a string JSON-quoted, an object or array as JSON, anything
 * else as String(value) (so NaN stays NaN). Longer than `max` characters it is cut, with an ellipsis
 * and its full length: `"abc…" (52,428,800 characters)`.
 */
export const quote = (value: unknown, max = 200): string => {
  if (typeof value === "string") {
    return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(cut(value, max) + "…")} (${count(value.length)} characters)`;
  }
  let s: string;
  try {
    s = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  } catch {
    s = String(value);
  }
  return s.length <= max ? s : `${cut(s, max)}… (${count(s.length)} characters)`;
};

/** The end of the string literal that opens at `q` (index of its closing quote), or -1 if unclosed. */
const closingQuote = (text: string, q: number): number => {
  for (let from = q + 1; ; ) {
    const k = text.indexOf('"', from);
    if (k < 0) return -1;
    let backslashes = 0;
    while (k - 1 - backslashes > q && text.charCodeAt(k - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return k;
    from = k + 1;
  }
};

/**
 * Bound a message composed elsewhere (effect Schema's `Expected …, actual "<value>"`, a parser's
 * message): every double-quoted literal longer than `max` is cut as by `quote`, and the whole is
 * then cut to `total` characters with its full length.
 */
export const boundMessage = (text: string, max = 200, total = 1000): string => {
  let out = "";
  let i = 0;
  for (;;) {
    const q = text.indexOf('"', i);
    const end = q < 0 ? -1 : closingQuote(text, q);
    if (end < 0) {
      out += text.slice(i);
      break;
    }
    const literal = text.slice(q, end + 1);
    let shown = literal;
    if (literal.length > max + 2) {
      try {
        shown = quote(JSON.parse(literal), max);
      } catch {
        shown = quote(literal.slice(1, -1), max);
      }
    }
    out += text.slice(i, q) + shown;
    i = end + 1;
  }
  return out.length <= total ? out : `${cut(out, total)}… (${count(out.length)} characters in all)`;
};

/** One bad record: where it is and why it was rejected. `line` is 1-based (0 = the file as a whole). */
export interface RecordIssue {
  readonly file: string;
  readonly line: number;
  readonly field: string;
  readonly message: string;
}

/** `file:line: field "f": message` (the file alone when line is 0). */
export const formatIssue = (i: RecordIssue): string =>
  `${i.file}${i.line > 0 ? `:${i.line}` : ""}: field "${i.field}": ${i.message}`;

/** A record failed its schema (strict mode). */
export class MalformedRecord extends Data.TaggedError("MalformedRecord")<{
  readonly dataset: string;
  readonly issue: RecordIssue;
}> {
  override get message(): string {
    return (
      `dataset ${this.dataset}: malformed record at ${formatIssue(this.issue)}. ` +
      `Fix or remove that record, or read with { skipBad: true } (acft data check lists every bad record).`
    );
  }
}

/** A file the dataset needs is absent or unreadable. */
export class DatasetFileMissing extends Data.TaggedError("DatasetFileMissing")<{
  readonly dataset: string;
  readonly file: string;
  readonly reason: string;
}> {
  override get message(): string {
    return (
      `dataset ${this.dataset}: cannot read ${this.file} (${this.reason}). ` +
      `Check --data-dir / ACFT_DATA_DIR points at the documented layout (docs/data.md), or run \`acft data fetch\`.`
    );
  }
}

/** The data directory itself is missing or is not a directory. */
export class DataDirMissing extends Data.TaggedError("DataDirMissing")<{
  readonly dataDir: string;
  /** "missing" (nothing at that path) or "not a directory" (a file is there) */
  readonly reason: "missing" | "not a directory";
}> {
  override get message(): string {
    const what = this.reason === "missing" ? "does not exist" : "is not a directory";
    return (
      `data directory ${this.dataDir} ${what}; pass --data-dir DIR (or set ACFT_DATA_DIR) naming a directory in the ` +
      `layout of docs/data.md, download one with \`acft data fetch --data-dir DIR\`, or give neither to use the synthetic default.`
    );
  }
}

/** What to do about an empty file (in the typed error and in `acft data check`). */
export const EMPTY_ADVICE =
  "Restore the file (`acft data fetch --data-dir DIR` downloads the public files and checks their sha256) or point --data-dir at a complete copy.";

/** A file the dataset needs holds no records (0 bytes, only blank lines, a header and no rows, `[]`). */
export class EmptyDataFile extends Data.TaggedError("EmptyDataFile")<{
  readonly dataset: string;
  readonly dataDir: string;
  /** path relative to the data dir */
  readonly file: string;
  /** what the file holds instead of records, e.g. "only blank lines" */
  readonly detail: string;
  /** what the file is for the dataset, e.g. "the train split" */
  readonly role: string;
}> {
  override get message(): string {
    return `dataset ${this.dataset}: ${this.file} in ${this.dataDir} is empty (${this.detail}), but ${this.role} is required. ${EMPTY_ADVICE}`;
  }
}

/** A dataset name that the registry does not know. */
export class UnknownDataset extends Data.TaggedError("UnknownDataset")<{
  readonly name: string;
  readonly known: readonly string[];
}> {
  override get message(): string {
    return `unknown dataset "${this.name}"; known datasets: ${this.known.join(", ")}`;
  }
}

/** A downloaded file does not have the manifest's sha256; the partial file was deleted. */
export class ChecksumMismatch extends Data.TaggedError("ChecksumMismatch")<{
  readonly file: string;
  readonly url: string;
  readonly expected: string;
  readonly actual: string;
}> {
  override get message(): string {
    return (
      `checksum mismatch for ${this.file} from ${this.url}: expected sha256 ${this.expected}, got ${this.actual}. ` +
      `The partial download was deleted; retry, and if it persists the source changed: report it.`
    );
  }
}

/** A download failed for a reason other than the checksum (HTTP status, network, too many retries). */
export class DownloadFailed extends Data.TaggedError("DownloadFailed")<{
  readonly file: string;
  readonly url: string;
  readonly reason: string;
}> {
  override get message(): string {
    return (
      `download of ${this.file} from ${this.url} failed: ${this.reason}. ` +
      `Rerun \`acft data fetch\`: completed files are kept and partial ones resume.`
    );
  }
}

/** A bad argument to a data function (size parameter, ratio, flag value). */
export class InvalidDataOption extends Data.TaggedError("InvalidDataOption")<{
  readonly option: string;
  readonly value: unknown;
  readonly expected: string;
}> {
  override get message(): string {
    return `invalid value for ${boundMessage(this.option, 200, 200)}: ${quote(this.value)}; expected ${boundMessage(this.expected)}`;
  }
}

export type DataError = MalformedRecord | DatasetFileMissing | DataDirMissing | EmptyDataFile | UnknownDataset | InvalidDataOption;
export type FetchError = ChecksumMismatch | DownloadFailed | InvalidDataOption;
