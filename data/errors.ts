// Typed errors of the data layer. Each says what went wrong, where (file, line, field) and what to do.
import { Data } from "effect";
import { boundMessage, quote } from "../engine/Quote.ts";

export { boundMessage, quote };

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
