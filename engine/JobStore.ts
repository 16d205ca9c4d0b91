// Batch jobs submitted by an executor (the `jobs` table): which run and instance a job computes, where
// its staging directory and log are, and its last known scheduler state. The head records a job when it
// submits it and updates it as it polls; a restarted head finds its predecessor's jobs here by cache key.
import type { RunStore } from "./RunStore.ts";

export interface JobRow {
  readonly job_id: string;
  readonly run_id: number;
  readonly instance_id: string;
  readonly cache_key: string;
  readonly staging: string;
  readonly log: string;
  readonly state: string;
  readonly node: string;
}

const now = () => new Date().toISOString();

export const recordJob = (db: RunStore, executor: string, j: JobRow): void => {
  db.db.prepare(
    `INSERT OR REPLACE INTO jobs (executor, job_id, run_id, instance_id, cache_key, staging, log, state, node, submitted_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(executor, j.job_id, j.run_id, j.instance_id, j.cache_key, j.staging, j.log, j.state, j.node, now(), now());
};

export const updateJob = (
  db: RunStore, executor: string, jobId: string,
  u: { state?: string; node?: string; reason?: string; exitCode?: number | null; runId?: number },
): void => {
  db.db.prepare(
    `UPDATE jobs SET state=coalesce(?, state), node=coalesce(nullif(?, ''), node), reason=coalesce(?, reason),
       exit_code=coalesce(?, exit_code), run_id=coalesce(?, run_id), updated_at=? WHERE executor=? AND job_id=?`,
  ).run(u.state ?? null, u.node ?? null, u.reason ?? null, u.exitCode ?? null, u.runId ?? null, now(), executor, jobId);
};

/** The newest job submitted for a cache key. */
export const latestJob = (db: RunStore, executor: string, key: string): JobRow | undefined =>
  db.db.prepare("SELECT * FROM jobs WHERE executor=? AND cache_key=? ORDER BY submitted_at DESC, rowid DESC LIMIT 1").get(executor, key) as JobRow | undefined;

/** Jobs whose last recorded state is not terminal (queued, running, or last seen so by a head that died). */
export const jobsInFlight = (db: RunStore, active: (state: string) => boolean): Array<JobRow & { executor: string; updated_at: string }> =>
  (db.db.prepare("SELECT * FROM jobs ORDER BY submitted_at, rowid").all() as Array<JobRow & { executor: string; updated_at: string }>).filter((j) => active(j.state));

/** Number of jobs ever submitted for a cache key (tests: no duplicate submissions). */
export const jobsForKey = (db: RunStore, key: string): JobRow[] =>
  db.db.prepare("SELECT * FROM jobs WHERE cache_key=? ORDER BY submitted_at, rowid").all(key) as JobRow[];

/** Log paths of the jobs submitted by the last `n` runs. */
export const jobLogsOfRuns = (db: RunStore, n: number): string[] =>
  (db.db.prepare("SELECT log FROM jobs WHERE run_id IN (SELECT run_id FROM runs ORDER BY run_id DESC LIMIT ?)").all(n) as Array<{ log: string }>).map((r) => r.log);
