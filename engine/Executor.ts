// Where a stage instance executes. The Runner plans, caches, locks and commits; an Executor only turns
// a Job into its output. `local` forks a worker process on this host (inline stages run in the Runner's
// process); `slurm` (Slurm.ts) submits a batch job whose worker writes into the store's staging area.
// Another scheduler is added by implementing `Executor` the same way (see docs/engine.md, "Executors").
import { mkdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Job, JobResult, Sink } from "./Exec.ts";
import type { Row } from "./Stage.ts";

/** What a stage instance needs. Unset fields: the executor's default (Slurm: the cluster's). */
export interface Resources {
  /** CPU cores (Slurm --cpus-per-task; locally the worker's native thread count). */
  readonly cpus?: number;
  /** Memory in MiB (Slurm --mem). */
  readonly memMB?: number;
  /** GPUs (Slurm --gres=gpu:N). */
  readonly gpus?: number;
  /** Wall-clock limit in minutes (Slurm --time). */
  readonly minutes?: number;
}

export const RESOURCE_KEYS: ReadonlyArray<keyof Resources> = ["cpus", "memMB", "gpus", "minutes"];

export interface ExecuteContext {
  readonly runId: number;
  readonly stage: string;
  readonly outputKind: "value" | "directory";
  readonly resources: Resources;
}

/**
 * An execution's result: the value's canonical JSON (value stages), and, when the executor published the
 * output itself (verified against the digest the worker reported), what it published.
 */
export interface ExecResult extends JobResult {
  readonly put?: { readonly digest: string; readonly bytes: number; readonly replaced: boolean };
}

export interface Executor {
  readonly name: string;
  /** Whether stages marked `process: "inline"` run inside the Runner's process (else they go to `execute` too). */
  readonly runsInline: boolean;
  /**
   * Execute one instance. Directory outputs go to `job.outDir` unless the result carries `put`. Failures
   * reject with a typed error naming the instance (the Runner records its message and `detail`).
   */
  readonly execute: (job: Job, sink: Sink, ctx: ExecuteContext) => Promise<ExecResult>;
}

/** Forks a worker process per instance (Runner.forkJob), passing the environment it must run with. */
export type ForkJob = (job: Job, sink: Sink, env: NodeJS.ProcessEnv) => Promise<JobResult>;

/**
 * CPUs granted to one worker: what the stage declares, else the cores divided among the concurrent jobs
 * (so `--jobs 3` on two cores gives each worker one thread instead of every worker all the cores).
 */
export const localCpus = (r: Resources, jobs: number, cores = availableParallelism()): number =>
  r.cpus ?? Math.max(1, Math.floor(cores / Math.max(1, jobs)));

/**
 * The worker's ACFT_THREADS: the stage's declared CPUs; else the user's ACFT_THREADS; else, when several
 * jobs share the cores, their share; else unset (one job: the native default, every core up to a cap).
 */
export const localThreads = (r: Resources, jobs: number, env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): string | undefined =>
  r.cpus !== undefined ? String(r.cpus) : env.ACFT_THREADS ? env.ACFT_THREADS : jobs > 1 ? String(localCpus(r, jobs, cores)) : undefined;

/** Today's execution: one forked worker per instance, its native thread pool sized to its granted CPUs. */
export const localExecutor = (fork: ForkJob, jobs: number): Executor => ({
  name: "local",
  runsInline: true,
  execute: (job, sink, ctx) => {
    const threads = localThreads(ctx.resources, jobs);
    return fork(job, sink, threads === undefined ? process.env : { ...process.env, ACFT_THREADS: threads });
  },
});

/**
 * Retry failed executions up to `retries` times. Each attempt's metrics and table rows are held back and
 * passed on only for the attempt that succeeds (a failed attempt's rows never reach the tables); a
 * directory output's scratch is emptied between attempts.
 */
export const withRetries = (inner: Executor, retries: number, onRetry: (job: Job, attempt: number, error: unknown) => void): Executor =>
  retries <= 0 ? inner : {
    name: inner.name,
    runsInline: inner.runsInline,
    execute: async (job, sink, ctx) => {
      for (let attempt = 0; ; attempt++) {
        const metrics: Array<[string, number, number | undefined]> = [];
        const tables: Array<[string, ReadonlyArray<Row>]> = [];
        const held: Sink = { ...sink, metric: (n, v, s) => void metrics.push([n, v, s]), table: (n, rows) => void tables.push([n, rows]) };
        try {
          const r = await inner.execute(job, held, ctx);
          for (const m of metrics) sink.metric(...m);
          for (const t of tables) sink.table(...t);
          return r;
        } catch (e) {
          if (attempt >= retries) throw e;
          onRetry(job, attempt + 1, e);
          if (job.outDir) rmSync(job.outDir, { recursive: true, force: true }), mkdirSync(job.outDir);
        }
      }
    },
  };
