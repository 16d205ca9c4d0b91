// The common shape of a loaded dataset and the machinery every reader uses: reading files (and
// hashing exactly those bytes into the digest), decoding records through an effect Schema, and
// either failing on the first bad record (default) or skipping and counting bad records.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Effect, Either, ParseResult, Schema } from "effect";
import { DatasetFileMissing, MalformedRecord, type DataError, type RecordIssue } from "./errors.ts";

export interface ReadOptions {
  /** Skip malformed records (counted in `skipped`, listed in `errors`) instead of failing on the first. */
  readonly skipBad?: boolean;
}

export interface LoadedDataset<A> {
  readonly name: string;
  readonly records: readonly A[];
  /** sha256 hex over the reader's format tag and the bytes of every file it read (see `digestOf`). */
  readonly digest: string;
  readonly errors: readonly RecordIssue[];
  readonly skipped: number;
  /** Paths (relative to the data dir) of the files read, sorted. */
  readonly files: readonly string[];
}

/**
 * digest = sha256( "acft-data/<name>/v<format>\n" ++ for each file, sorted by path:
 *                  "<path>\0<byte length>\0<sha256(bytes)>\n" )
 * so any byte change in any file read, a renamed file, or a reader format bump changes it,
 * and nothing else does (the order in which a reader happens to open files does not matter).
 */
export const digestOf = (name: string, formatVersion: number, files: ReadonlyMap<string, Uint8Array>): string => {
  const h = createHash("sha256").update(`acft-data/${name}/v${formatVersion}\n`);
  for (const path of [...files.keys()].sort()) {
    const bytes = files.get(path)!;
    h.update(`${path}\0${bytes.length}\0${createHash("sha256").update(bytes).digest("hex")}\n`);
  }
  return h.digest("hex");
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Field path of the first schema issue ("record" when the root itself is wrong) and its message. */
const firstIssue = (error: ParseResult.ParseError): { field: string; message: string } => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error);
  const first = issues[0];
  if (first === undefined) return { field: "record", message: error.message };
  const field = first.path.length === 0 ? "record" : first.path.map(String).join(".");
  return { field, message: first.message };
};

/** One reading session of one dataset. Readers call `text`, `decode`/`reject`, then `finish`. */
export class DatasetReader<A> {
  private readonly read = new Map<string, Uint8Array>();
  private readonly records: A[] = [];
  private readonly issues: RecordIssue[] = [];
  private skipped = 0;

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly formatVersion: number,
    readonly options: ReadOptions = {},
  ) {}

  exists(rel: string): boolean {
    return existsSync(join(this.dataDir, rel));
  }

  isDirectory(rel: string): boolean {
    const p = join(this.dataDir, rel);
    return existsSync(p) && statSync(p).isDirectory();
  }

  /** The file's bytes, remembered for the digest. Missing file → DatasetFileMissing. */
  bytes(rel: string): Uint8Array {
    const p = join(this.dataDir, rel);
    let b: Uint8Array;
    try {
      b = readFileSync(p);
    } catch (e) {
      throw new DatasetFileMissing({ dataset: this.name, file: p, reason: (e as NodeJS.ErrnoException).code ?? String(e) });
    }
    this.read.set(rel, b);
    return b;
  }

  /** The file as UTF-8 text; invalid UTF-8 is a file-level error (line 0, field "encoding"). */
  text(rel: string): string | undefined {
    const b = this.bytes(rel);
    try {
      return utf8.decode(b);
    } catch {
      this.reject({ file: rel, line: 0, field: "encoding", message: "file is not valid UTF-8" });
      return undefined;
    }
  }

  /** Decode one raw record; on failure reject it (throw in strict mode, else count and skip). */
  decode<I>(schema: Schema.Schema<A, I>, raw: unknown, file: string, line: number, fieldPrefix = ""): A | undefined {
    const r = Schema.decodeUnknownEither(schema)(raw, { errors: "first", onExcessProperty: "ignore" });
    if (Either.isRight(r)) {
      this.records.push(r.right);
      return r.right;
    }
    const { field, message } = firstIssue(r.left);
    this.reject({ file, line, field: fieldPrefix + field, message });
    return undefined;
  }

  /** Reject a record that failed before schema decoding (syntax error, label mismatch, …). */
  reject(issue: RecordIssue): void {
    if (!this.options.skipBad) throw new MalformedRecord({ dataset: this.name, issue });
    this.issues.push(issue);
    this.skipped += 1;
  }

  finish(): LoadedDataset<A> {
    return {
      name: this.name,
      records: this.records,
      digest: digestOf(this.name, this.formatVersion, this.read),
      errors: this.issues,
      skipped: this.skipped,
      files: [...this.read.keys()].sort(),
    };
  }
}

const isDataError = (e: unknown): e is DataError =>
  typeof e === "object" && e !== null && "_tag" in e &&
  ["MalformedRecord", "DatasetFileMissing", "UnknownDataset", "InvalidDataOption"].includes((e as { _tag: string })._tag);

/** Lift a synchronous reader into an Effect: typed data errors fail, anything else is a defect. */
export const asEffect = <A>(run: () => A): Effect.Effect<A, DataError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(run());
    } catch (e) {
      return isDataError(e) ? Effect.fail(e) : Effect.die(e);
    }
  });

/** Split text into lines (LF or CRLF), dropping the empty remainder after a final newline. */
export const splitLines = (text: string): string[] => {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
};
