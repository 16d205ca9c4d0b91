// The command-line side of executors: `acft run --executor local|slurm` and its Slurm flags, and the
// jobs in flight that `acft status` lists.
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "./Errors.ts";
import type { Executor } from "./Executor.ts";
import { jobsInFlight } from "./JobStore.ts";
import type { Engine } from "./Runner.ts";
import { isActive, slurmExecutor, squeue } from "./Slurm.ts";

export const EXECUTOR_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  executor: { type: "string" },
  partition: { type: "string" },
  account: { type: "string" },
  qos: { type: "string" },
  "sbatch-arg": { type: "string", multiple: true },
  "max-jobs": { type: "string" },
  retries: { type: "string" },
};

export const EXECUTOR_USAGE = "[--executor local|slurm [--partition P] [--account A] [--qos Q] [--sbatch-arg ARG]... [--max-jobs N]] [--retries N]";

const int = (v: unknown, flag: string, min: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError({ message: `--${flag} ${String(v).slice(0, 200)}: expected an integer ≥ ${min}` });
  return n;
};

/** The executor, its concurrency (`--max-jobs` for Slurm, default 100) and retries from run's flags. */
export const executorFromFlags = (values: Record<string, unknown>): {
  executor?: (engine: Engine, jobs: number) => Executor; jobs?: number; retries: number;
} => {
  const name = (values.executor as string | undefined) ?? "local";
  const retries = int(values.retries, "retries", 0) ?? 0;
  const slurmFlags = ["partition", "account", "qos", "sbatch-arg", "max-jobs"].filter((f) => values[f] !== undefined);
  if (name === "local") {
    if (slurmFlags.length > 0) throw new UsageError({ message: `--${slurmFlags[0]} applies to --executor slurm only` });
    return { retries };
  }
  if (name !== "slurm") throw new UsageError({ message: `--executor ${name.slice(0, 200)}: expected local or slurm` });
  if (values.jobs !== undefined) throw new UsageError({ message: "--jobs is for the local executor; with --executor slurm, --max-jobs N bounds the jobs in flight" });
  const opts = {
    partition: values.partition as string | undefined,
    account: values.account as string | undefined,
    qos: values.qos as string | undefined,
    sbatchArgs: (values["sbatch-arg"] as string[] | undefined) ?? [],
  };
  return { executor: (engine) => slurmExecutor(engine, opts), jobs: int(values["max-jobs"], "max-jobs", 1) ?? 100, retries };
};

export interface JobInFlight {
  readonly executor: string;
  readonly jobId: string;
  readonly instance: string;
  readonly runId: number;
  readonly state: string;
  readonly node: string;
  readonly log: string;
}

/**
 * Jobs recorded as queued or running, with their state refreshed from Slurm when it answers (a head that
 * was killed left its last-seen state behind).
 */
export const jobsNow = async (engine: Engine): Promise<JobInFlight[]> => {
  const rows = jobsInFlight(engine.db, isActive);
  let live: Map<string, { state: string; node: string }> | undefined;
  if (rows.some((r) => r.executor === "slurm"))
    live = await squeue(rows.filter((r) => r.executor === "slurm").map((r) => r.job_id), 15_000).catch(() => undefined);
  return rows.flatMap((r) => {
    const now = live?.get(r.job_id);
    if (live && r.executor === "slurm" && (!now || !isActive(now.state))) return []; // ended since: its head collects it on the next run
    return [{ executor: r.executor, jobId: r.job_id, instance: r.instance_id, runId: r.run_id, state: now?.state ?? r.state, node: now?.node ?? r.node, log: r.log }];
  });
};

export const jobLines = (jobs: ReadonlyArray<JobInFlight>): string =>
  jobs.map((j) => `⧗ ${j.executor} job ${j.jobId} ${j.state}${j.node ? ` on ${j.node}` : ""}: ${j.instance} (run ${j.runId}; log ${j.log})\n`).join("");
