// Garbage collection: remove artifacts that neither the last N runs nor any pipeline's current plan reference,
// scratch directories and locks of processes that are gone.
import { pidAlive } from "./ArtifactStore.ts";
import type { Plan } from "./Graph.ts";
import type { Engine } from "./Runner.ts";
import { STALE_LOCK_MS } from "./RunStore.ts";
import { status } from "./Status.ts";
import { jobsInFlight } from "./JobStore.ts";
import { isActive } from "./Slurm.ts";
import { cleanStaging } from "./Staging.ts";

export interface GcReport {
  readonly removed: number;
  readonly kept: number;
  readonly freedBytes: number;
  /** Locks whose holder process is gone (removed, or counted under --dry-run). */
  readonly staleLocks: number;
}

export const gc = (engine: Engine, plans: ReadonlyArray<Plan>, keepRuns: number, dryRun = false): GcReport => {
  const keep = engine.db.recentDigests(keepRuns);
  for (const p of plans) for (const s of status(engine, p)) if (s.outputDigest) keep.add(s.outputDigest);
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
  let staleLocks = 0;
  if (!dryRun) {
    for (const e of engine.db.cacheEntries()) if (gone.has(e.output_digest)) engine.db.cacheDelete(e.cache_key);
    freedBytes += engine.store.cleanScratch(pidAlive);
    freedBytes += cleanStaging(engine.root, new Set(jobsInFlight(engine.db, isActive).map((j) => j.staging)));
    staleLocks = engine.db.cleanLocks(pidAlive, STALE_LOCK_MS);
  } else staleLocks = engine.db.staleLocks(pidAlive, STALE_LOCK_MS).length;
  return { removed, kept, freedBytes, staleLocks };
};
