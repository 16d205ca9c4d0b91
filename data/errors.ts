// Typed errors of the data layer. Each says what went wrong, where (file, line, field) and what to do.
import { Data } from "effect";

/** One bad record: where it is and why it was rejected. `line` is 1-based (0 = the file as a whole). */
export interface RecordIssue {
  readonly file: string;
  readonly line: number;
  readonly field: string;
  readonly message: string;
}

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
    return `invalid value for ${this.option}: ${JSON.stringify(this.value)}; expected ${this.expected}`;
  }
}

export type DataError = MalformedRecord | DatasetFileMissing | UnknownDataset | InvalidDataOption;
export type FetchError = ChecksumMismatch | DownloadFailed | InvalidDataOption;
