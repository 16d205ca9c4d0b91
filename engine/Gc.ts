// Garbage collection: remove artifacts that neither the last N runs nor any pipeline's current plan reference,
// scratch directories and locks of processes that are gone, training checkpoints no rerun can resume from,
// and batch-job logs of jobs that are neither in flight nor of the last N runs.
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { pidAlive } from "./ArtifactStore.ts";
import type { Plan } from "./Graph.ts";
import type { Engine } from "./Runner.ts";
import { STALE_LOCK_MS } from "./RunStore.ts";
import { status } from "./Status.ts";
import { jobLogsOfRuns, jobsInFlight } from "./JobStore.ts";
import { isActive } from "./Slurm.ts";
import { cleanStaging } from "./Staging.ts";

export interface GcReport {
  readonly removed: number;
  readonly kept: number;
  readonly freedBytes: number;
  /** Locks whose holder process is gone (removed, or counted under --dry-run). */
  readonly staleLocks: number;
  /** Checkpoint directories no rerun can resume from (removed, or counted under --dry-run). */
  readonly checkpoints: number;
  /** Batch-job logs of jobs neither in flight nor of the last N runs (removed, or counted). */
  readonly logs: number;
}

const bytesOf = (p: string): number =>
  statSync(p).isDirectory() ? readdirSync(p).reduce((s, f) => s + bytesOf(join(p, f)), 0) : statSync(p).size;

/** Entries of `dir` that `keep` rejects: removed (unless dry), with their count and bytes. */
const sweep = (dir: string, keep: (name: string) => boolean, dryRun: boolean): { n: number; bytes: number } => {
  let n = 0, bytes = 0;
  if (!existsSync(dir)) return { n, bytes };
  for (const name of readdirSync(dir)) {
    if (keep(name)) continue;
    const p = join(dir, name);
    (n += 1), (bytes += bytesOf(p));
    if (!dryRun) rmSync(p, { recursive: true, force: true });
  }
  return { n, bytes };
};

export const gc = (engine: Engine, plans: ReadonlyArray<Plan>, keepRuns: number, dryRun = false): GcReport => {
  const keep = engine.db.recentDigests(keepRuns);
  const statuses = plans.flatMap((p) => status(engine, p));
  for (const s of statuses) if (s.outputDigest) keep.add(s.outputDigest);
  let removed = 0, kept = 0, freedBytes = 0;
  const gone = new Set<string>();
  for (const a of engine.store.list()) {
    if (keep.has(a.digest)) {
      kept++;
      continue;
    }
    removed++, (freedBytes += a.bytes), gone.add(a.digest);
    if (!dryRun) engine.store.remove(a.kind, a.digest);
  }
  // A checkpoint is kept while a rerun could resume from it: its key is a current plan's instance that
  // is not cached yet, or is locked by a live process, or has a batch job in flight.
  const inFlight = jobsInFlight(engine.db, isActive);
  const resumable = new Set<string>([
    ...statuses.filter((s) => s.status === "stale" && s.key).map((s) => s.key!),
    ...engine.db.heldLocks(pidAlive, STALE_LOCK_MS).map((l) => l.cache_key),
    ...inFlight.map((j) => j.cache_key),
  ]);
  const ckpt = sweep(join(engine.root, "store", "checkpoints"), (key) => resumable.has(key), dryRun);
  const keepLogs = new Set([...jobLogsOfRuns(engine.db, keepRuns), ...inFlight.map((j) => j.log)]);
  const slurmLogs = join(engine.root, "logs", "slurm");
  const logs = sweep(slurmLogs, (name) => keepLogs.has(join(slurmLogs, name)), dryRun);
  freedBytes += ckpt.bytes + logs.bytes;
  let staleLocks = 0;
  if (!dryRun) {
    for (const e of engine.db.cacheEntries()) if (gone.has(e.output_digest)) engine.db.cacheDelete(e.cache_key);
    freedBytes += engine.store.cleanScratch(pidAlive);
    freedBytes += cleanStaging(engine.root, new Set(jobsInFlight(engine.db, isActive).map((j) => j.staging)));
    staleLocks = engine.db.cleanLocks(pidAlive, STALE_LOCK_MS);
  } else staleLocks = engine.db.staleLocks(pidAlive, STALE_LOCK_MS).length;
  return { removed, kept, freedBytes, staleLocks, checkpoints: ckpt.n, logs: logs.n };
};
