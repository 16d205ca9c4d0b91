// The staging area: where workers that cannot talk to the head (batch jobs on other nodes) leave their
// work. One directory per submitted job under <store>/store/staging/, on the filesystem shared with the
// compute nodes:
//
//   job.json       the Job (its outDir is out/ here)
//   job.sh         the batch script
//   out/           the stage's ctx.outDir
//   events.jsonl   progress, log, metric and table events, one JSON object a line, appended as they happen
//   result.json    written last (temp + rename): { ok, text?, digest } or { ok: false, tag, message, detail }
//
// The head alone reads it back: it verifies the output against the digest the worker reported, publishes
// it into the content-addressed store and commits the cache entry. A failed or cancelled job's staging
// directory is removed without anything in it becoming visible.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, closeSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Data } from "effect";
import { sha256 } from "./Canonical.ts";
import { digestDir, type ArtifactStore } from "./ArtifactStore.ts";
import { executeStage, type Job, type Sink } from "./Exec.ts";
import type { ExecResult } from "./Executor.ts";
import type { Row } from "./Stage.ts";
import { findStage, type FromWorker, type ModuleLoader } from "./Worker.ts";

/** The output a job reported does not match what is in its staging directory (or no result was written). */
export class StagedOutputInvalid extends Data.TaggedError("StagedOutputInvalid")<{
  readonly message: string;
  readonly instance: string;
  readonly path: string;
}> {}

export type StagedResult =
  | { readonly ok: true; readonly text?: string; readonly digest: string }
  | { readonly ok: false; readonly tag: string; readonly message: string; readonly detail: string };

export const stagingRoot = (storeRoot: string): string => join(storeRoot, "store", "staging");

/** A fresh staging directory for one submission of `job`, with job.json written (outDir pointing into it). */
export const createStaging = (storeRoot: string, job: Job): { dir: string; job: Job } => {
  mkdirSync(stagingRoot(storeRoot), { recursive: true });
  const dir = mkdtempSync(join(stagingRoot(storeRoot), `${job.key.slice(0, 16)}-`));
  mkdirSync(join(dir, "out"));
  const staged: Job = { ...job, outDir: join(dir, "out") };
  writeFileSync(join(dir, "job.json"), JSON.stringify(staged));
  return { dir, job: staged };
};

const writeAtomic = (path: string, text: string): void => {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
};

/** Worker side (inside the batch job): run the staged job, append events, write result.json; exit code 0/1. */
export const runStagedJob = async (load: ModuleLoader, jobFile: string): Promise<number> => {
  const dir = join(jobFile, "..");
  const events = join(dir, "events.jsonl");
  const emit = (e: FromWorker) => appendFileSync(events, `${JSON.stringify(e)}\n`);
  let result: StagedResult;
  try {
    const job = JSON.parse(readFileSync(jobFile, "utf8")) as Job;
    const stage = await findStage(load, job.moduleUrl, job.stageName);
    const r = await executeStage(stage, job, {
      progress: (done, total, label) => emit({ t: "progress", done, total, label }),
      metric: (name, value, step) => emit({ t: "metric", name, value, step }),
      log: (message) => emit({ t: "log", message }),
      table: (name, rows) => emit({ t: "table", name, rows }),
    });
    result = r.text !== undefined ? { ok: true, text: r.text, digest: sha256(Buffer.from(r.text, "utf8")) } : { ok: true, digest: digestDir(job.outDir) };
  } catch (e) {
    const err = e as { _tag?: string; message?: string; detail?: string; stack?: string };
    result = { ok: false, tag: err._tag ?? "Error", message: err.message ?? String(e), detail: err.detail ?? err.stack ?? String(e) };
    process.stderr.write(`${result.message}\n${result.detail}\n`);
  }
  writeAtomic(join(dir, "result.json"), JSON.stringify(result));
  return result.ok ? 0 : 1;
};

export const readStagedResult = (dir: string): StagedResult | undefined => {
  const p = join(dir, "result.json");
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, "utf8")) as StagedResult;
  } catch {
    return undefined;
  }
};

/** Reads events.jsonl from byte `offset` on; returns the complete lines' events and the new offset. */
export const readEvents = (dir: string, offset: number): { events: FromWorker[]; offset: number } => {
  const p = join(dir, "events.jsonl");
  if (!existsSync(p)) return { events: [], offset };
  const fd = openSync(p, "r");
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(1 << 16);
    for (let pos = offset; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      pos += n;
    }
    const text = Buffer.concat(chunks).toString("utf8");
    const end = text.lastIndexOf("\n") + 1; // a partly written last line waits for the next read
    const events = text.slice(0, end).split("\n").filter((l) => l !== "").flatMap((l) => {
      try {
        return [JSON.parse(l) as FromWorker];
      } catch {
        return [];
      }
    });
    return { events, offset: offset + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    closeSync(fd);
  }
};

/** Progress and log events go out as they come; metrics and table rows only once the job has succeeded. */
export const relay = (events: ReadonlyArray<FromWorker>, sink: Sink, kinds: "live" | "final"): void => {
  for (const m of events) {
    if (kinds === "live" && m.t === "progress") sink.progress(m.done, m.total, m.label);
    else if (kinds === "live" && m.t === "log") sink.log(m.message);
    else if (kinds === "final" && m.t === "metric") sink.metric(m.name, m.value, m.step);
    else if (kinds === "final" && m.t === "table") sink.table(m.name, m.rows as ReadonlyArray<Row>);
  }
};

/**
 * Head side, after the job COMPLETED: check result.json, verify the output against its reported digest,
 * publish it into the store, pass on the job's metrics and tables, remove the staging directory.
 */
export const collectStaged = (store: ArtifactStore, dir: string, job: Job, kind: "value" | "directory", sink: Sink): ExecResult => {
  const r = readStagedResult(dir);
  const bad = (why: string) => new StagedOutputInvalid({ message: `stage ${job.instanceId}: ${why} (staging directory ${dir}); rerun to recompute it`, instance: job.instanceId, path: dir });
  if (r === undefined) throw bad("the job ended without writing its result record");
  if (!r.ok) throw bad(`the job reported a failure: ${r.message.slice(0, 200)}`);
  let put: { digest: string; bytes: number; replaced: boolean };
  let text: string | undefined;
  if (kind === "value") {
    if (r.text === undefined || sha256(Buffer.from(r.text, "utf8")) !== r.digest) throw bad("the value output does not match its reported digest");
    text = r.text;
    put = store.putValue(r.text);
  } else {
    const out = join(dir, "out");
    if (!existsSync(out) || digestDir(out) !== r.digest) throw bad("the output directory does not match its reported digest");
    put = store.putDirectory(out);
    if (put.digest !== r.digest) throw bad("the output directory changed while it was published");
  }
  relay(readEvents(dir, 0).events, sink, "final");
  rmSync(dir, { recursive: true, force: true });
  return { text, put };
};

/** Discard what a failed or cancelled job wrote (its log stays where sbatch put it). */
export const discardStaging = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/**
 * `gc`: remove staging directories that no job recorded as queued or running refers to (left by a head
 * that died between creating one and recording its job, or by jobs whose head never came back); returns
 * the bytes freed. A restarted head re-attaches only to jobs whose staging directory still exists.
 */
export const cleanStaging = (storeRoot: string, inFlight: ReadonlySet<string>): number => {
  const root = stagingRoot(storeRoot);
  if (!existsSync(root)) return 0;
  let freed = 0;
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    if (inFlight.has(dir)) continue;
    for (const f of readdirSync(dir, { recursive: true }) as string[]) {
      const st = statSync(join(dir, f), { throwIfNoEntry: false });
      if (st?.isFile()) freed += st.size;
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return freed;
};
