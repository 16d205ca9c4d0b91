// `acft data fetch`: download manifest files into the data dir. Each file goes to <dest>.part,
// resumes with an HTTP Range request after a dropped connection, is verified against the
// manifest's sha256, and only then renamed into place: a failed or corrupt download never leaves
// a half-written file under the final name.
import { createHash } from "node:crypto";
import { Effect } from "effect";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { ChecksumMismatch, DownloadFailed, InvalidDataOption, type FetchError } from "./errors.ts";
import { MANIFEST, RAW_BASE, type ManifestEntry } from "./manifest.ts";

export interface FetchProgress {
  readonly file: string;
  readonly fileBytes: number;
  readonly fileTotal: number;
  /** bytes of all selected files that are on disk (verified or partial) */
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly bytesPerSecond: number;
  /** seconds left at the current rate; undefined before a rate is known */
  readonly etaSeconds: number | undefined;
}

export interface FetchOptions {
  readonly dataDir: string;
  /** Dataset directories / path prefixes to fetch (e.g. "mmlu", "toxigen/safenlp"); default: all. */
  readonly only?: readonly string[];
  /** Replace https://raw.githubusercontent.com with this base (a mirror; the tests' local server). */
  readonly mirror?: string;
  /** Files to fetch (default: the manifest). */
  readonly entries?: readonly ManifestEntry[];
  /** Resume attempts per file after a dropped connection (default 5). */
  readonly retries?: number;
  /** Abort a request that receives nothing for this long (default 30 s). */
  readonly idleTimeoutMs?: number;
  readonly onProgress?: (p: FetchProgress) => void;
}

export type FetchStatus = "present" | "downloaded" | "resumed";
export interface FetchedFile {
  readonly file: string;
  readonly status: FetchStatus;
  readonly bytes: number;
  readonly note?: string;
}

export const sha256File = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Entries selected by `only` (prefix match on the destination path); an unmatched prefix is an error. */
export const selectEntries = (entries: readonly ManifestEntry[], only?: readonly string[]): ManifestEntry[] => {
  if (!only || only.length === 0) return [...entries];
  for (const o of only) {
    if (!entries.some((e) => e.dest.startsWith(o))) {
      const dirs = [...new Set(entries.map((e) => e.dest.split("/")[0]))];
      throw new InvalidDataOption({ option: "--only", value: o, expected: `a path prefix in the data-dir layout, e.g. one of ${dirs.join(", ")}` });
    }
  }
  return entries.filter((e) => only.some((o) => e.dest.startsWith(o)));
};

const sizeOf = (p: string): number => (existsSync(p) ? statSync(p).size : 0);

interface Session { done: number; readonly total: number; readonly started: number; downloaded: number }

/** One HTTP attempt appending to `part` from its current size; returns false if the stream broke. */
const attempt = async (e: ManifestEntry, url: string, part: string, s: Session, opts: FetchOptions): Promise<boolean> => {
  const have = sizeOf(part);
  const ctrl = new AbortController();
  const idle = opts.idleTimeoutMs ?? 30_000;
  let timer = setTimeout(() => ctrl.abort(), idle);
  try {
    let res: Response;
    try {
      res = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: ctrl.signal });
    } catch (err) {
      return false; // connection refused / reset before headers: retry
    }
    if (res.status === 416 && have > 0) return true; // nothing left to send: verify what we have
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      if (res.status >= 500) return false;
      throw new DownloadFailed({ file: e.dest, url, reason: `HTTP ${res.status} ${res.statusText}` });
    }
    // 200 to a Range request = the server ignored it: start over
    const fd = openSync(part, res.status === 206 ? "a" : "w");
    if (res.status === 200) s.done -= have;
    try {
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return sizeOf(part) >= e.bytes; // a clean but short body: resume
        clearTimeout(timer);
        timer = setTimeout(() => ctrl.abort(), idle);
        writeSync(fd, value);
        s.done += value.length;
        s.downloaded += value.length;
        report(e, part, s, opts);
      }
    } catch {
      return false; // dropped mid-body: the caller resumes from the bytes on disk
    } finally {
      closeSync(fd);
    }
  } finally {
    clearTimeout(timer);
  }
};

const report = (e: ManifestEntry, part: string, s: Session, opts: FetchOptions): void => {
  if (!opts.onProgress) return;
  const secs = (Date.now() - s.started) / 1000;
  const rate = secs > 0 ? s.downloaded / secs : 0;
  opts.onProgress({ file: e.dest, fileBytes: sizeOf(part), fileTotal: e.bytes, doneBytes: s.done, totalBytes: s.total, bytesPerSecond: rate, etaSeconds: rate > 0 ? (s.total - s.done) / rate : undefined });
};

const fetchOne = async (e: ManifestEntry, s: Session, opts: FetchOptions): Promise<FetchedFile> => {
  const dest = join(opts.dataDir, e.dest);
  const note = e.note ? { note: e.note } : {};
  if (existsSync(dest) && sha256File(dest) === e.sha256) {
    s.done += e.bytes;
    return { file: e.dest, status: "present", bytes: e.bytes, ...note };
  }
  const url = opts.mirror ? e.url.replace(RAW_BASE, opts.mirror.replace(/\/$/, "")) : e.url;
  const part = `${dest}.part`;
  mkdirSync(dirname(dest), { recursive: true });
  const resumedFrom = sizeOf(part);
  s.done += resumedFrom;
  let resumed = resumedFrom > 0;
  const retries = opts.retries ?? 5;
  for (let i = 0; ; i++) {
    if (await attempt(e, url, part, s, opts)) break;
    if (i >= retries) throw new DownloadFailed({ file: e.dest, url, reason: `connection dropped ${i + 1} times; ${sizeOf(part)} of ${e.bytes} bytes kept in ${part}` });
    resumed = true;
  }
  const actual = sha256File(part);
  if (actual !== e.sha256) {
    s.done -= sizeOf(part);
    unlinkSync(part);
    throw new ChecksumMismatch({ file: e.dest, url, expected: e.sha256, actual });
  }
  renameSync(part, dest);
  return { file: e.dest, status: resumed ? "resumed" : "downloaded", bytes: e.bytes, ...note };
};

/** Fetch the selected manifest files in order; stops at the first typed failure (completed files stay). */
export const fetchDatasets = async (opts: FetchOptions): Promise<FetchedFile[]> => {
  const entries = selectEntries(opts.entries ?? MANIFEST, opts.only);
  const s: Session = { done: 0, total: entries.reduce((a, e) => a + e.bytes, 0), started: Date.now(), downloaded: 0 };
  const out: FetchedFile[] = [];
  for (const e of entries) out.push(await fetchOne(e, s, opts));
  return out;
};

const isFetchError = (e: unknown): e is FetchError =>
  typeof e === "object" && e !== null && ["ChecksumMismatch", "DownloadFailed", "InvalidDataOption"].includes((e as { _tag?: string })._tag ?? "");

/** The same as an Effect: typed fetch errors fail, anything else is a defect. */
export const fetchDatasetsEffect = (opts: FetchOptions): Effect.Effect<FetchedFile[], FetchError> =>
  Effect.tryPromise({ try: () => fetchDatasets(opts), catch: (e) => e }).pipe(
    Effect.catchAll((e) => (isFetchError(e) ? Effect.fail(e) : Effect.die(e))),
  );
