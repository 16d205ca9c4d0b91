// The common shape of a loaded dataset and the machinery every reader uses: reading files (and
// hashing exactly those bytes into the digest), decoding records through an effect Schema, and
// either failing on the first bad record (default) or skipping and counting bad records.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Effect, Either, ParseResult, Schema } from "effect";
import { boundMessage, DataDirMissing, DatasetFileMissing, EMPTY_ADVICE, EmptyDataFile, MalformedRecord, type DataError, type RecordIssue } from "./errors.ts";

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

/** Whether b[i] is a UTF-8 continuation byte in [lo, hi] (default 0x80–0xBF). */
const cont = (b: Uint8Array, i: number, lo = 0x80, hi = 0xbf): boolean => i < b.length && b[i] >= lo && b[i] <= hi;

/**
 * Byte offset of the first byte that starts an ill-formed UTF-8 sequence (overlong forms,
 * surrogates, > U+10FFFF and truncated sequences included, as TextDecoder's fatal mode), or -1.
 */
export const firstInvalidUtf8 = (b: Uint8Array): number => {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let n: number;
    if (c < 0x80) n = 1;
    else if (c >= 0xc2 && c <= 0xdf) n = cont(b, i + 1) ? 2 : 0;
    else if (c >= 0xe0 && c <= 0xef) {
      const second = c === 0xe0 ? cont(b, i + 1, 0xa0) : c === 0xed ? cont(b, i + 1, 0x80, 0x9f) : cont(b, i + 1);
      n = second && cont(b, i + 2) ? 3 : 0;
    } else if (c >= 0xf0 && c <= 0xf4) {
      const second = c === 0xf0 ? cont(b, i + 1, 0x90) : c === 0xf4 ? cont(b, i + 1, 0x80, 0x8f) : cont(b, i + 1);
      n = second && cont(b, i + 2) && cont(b, i + 3) ? 4 : 0;
    } else n = 0;
    if (n === 0) return i;
    i += n;
  }
  return -1;
};

/** 1-based line of a byte offset (LF-terminated lines). */
const lineAt = (b: Uint8Array, offset: number): number => {
  let line = 1;
  for (let p = b.indexOf(0x0a); p >= 0 && p < offset; p = b.indexOf(0x0a, p + 1)) line++;
  return line;
};

/** The data dir must be an existing directory: else DataDirMissing (not "no dataset found"). */
export const checkDataDir = (dataDir: string): void => {
  let st;
  try {
    st = statSync(dataDir);
  } catch {
    throw new DataDirMissing({ dataDir, reason: "missing" });
  }
  if (!st.isDirectory()) throw new DataDirMissing({ dataDir, reason: "not a directory" });
};

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
  private readonly texts = new Map<string, string | undefined>();
  private readonly records: A[] = [];
  private readonly issues: RecordIssue[] = [];
  private skipped = 0;

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly formatVersion: number,
    readonly options: ReadOptions = {},
  ) {
    checkDataDir(dataDir);
  }

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

  /**
   * The file as UTF-8 text (read and decoded once per session). Invalid UTF-8 rejects the file
   * once, at the line and byte offset of the first bad byte (field "encoding"), and gives undefined.
   */
  text(rel: string): string | undefined {
    if (this.texts.has(rel)) return this.texts.get(rel);
    const b = this.bytes(rel);
    let text: string | undefined;
    try {
      text = utf8.decode(b);
    } catch {
      const at = Math.max(0, firstInvalidUtf8(b));
      const bad = [...b.subarray(at, at + 4)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
      this.reject({
        file: rel,
        line: lineAt(b, at),
        field: "encoding",
        message: `invalid UTF-8 at byte offset ${at} (bytes ${bad}); the file must be UTF-8: convert it (e.g. iconv -t UTF-8) or fetch it again`,
      });
    }
    this.texts.set(rel, text);
    return text;
  }

  /**
   * A file the dataset needs turned out to hold no records (`detail` says what it holds instead;
   * `role` what it is for, e.g. "the train split"). Strict: EmptyDataFile. skipBad: listed as an
   * error of the file (line 0, field "file") unless that file already has one.
   */
  empty(file: string, detail: string, role: string): void {
    const e = new EmptyDataFile({ dataset: this.name, dataDir: this.dataDir, file, detail, role });
    if (!this.options.skipBad) throw e;
    if (this.issues.some((i) => i.file === file)) return;
    this.issues.push({ file, line: 0, field: "file", message: `is empty (${detail}), but ${role} is required. ${EMPTY_ADVICE}` });
  }

  /** Call `empty` when `text` has no non-blank line; returns whether it has one. */
  hasLines(file: string, text: string, role: string): boolean {
    if (/\S/.test(text)) return true;
    this.empty(file, text.length === 0 ? "0 bytes" : "only blank lines", role);
    return false;
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

  /**
   * Reject a record that failed before schema decoding (syntax error, label mismatch, …). Its field
   * and message are bounded here, so no value quoted in them (a 50 MB field) reaches an error or a report.
   */
  reject(raw: RecordIssue): void {
    const issue = { ...raw, field: boundMessage(raw.field, 200, 200), message: boundMessage(raw.message) };
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
  ["MalformedRecord", "DatasetFileMissing", "DataDirMissing", "EmptyDataFile", "UnknownDataset", "InvalidDataOption"].includes((e as { _tag: string })._tag);

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
