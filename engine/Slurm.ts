// The slurm executor: each stage instance is one batch job (`sbatch --no-requeue`, named after the
// instance). Its worker runs the stage from the staging area (Staging.ts); the head polls the queue
// (one `squeue` for all jobs in flight, `scontrol`/`sacct` for the details of a finished job), relays
// progress, and on COMPLETED verifies and publishes the output. Every other terminal state is a typed
// SlurmJobFailed naming the instance, job id, state and log. Every client call has a timeout. Submitted
// jobs are recorded in the `jobs` table, so a restarted head re-attaches to them instead of resubmitting.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Data } from "effect";
import type { Engine } from "./Runner.ts";
import { workerBundle } from "./Runner.ts";
import type { Job, Sink } from "./Exec.ts";
import type { ExecResult, Executor, Resources } from "./Executor.ts";
import { latestJob, recordJob, updateJob, type JobRow } from "./JobStore.ts";
import { collectStaged, createStaging, discardStaging, readEvents, readStagedResult, relay, stagingRoot } from "./Staging.ts";

/** A Slurm client command failed or timed out (controller down, bad option, unknown partition, …). */
export class SlurmCommandFailed extends Data.TaggedError("SlurmCommandFailed")<{
  readonly message: string;
  readonly command: string;
}> {}

/** A job ended in a state other than COMPLETED (or COMPLETED without a valid result). */
export class SlurmJobFailed extends Data.TaggedError("SlurmJobFailed")<{
  readonly message: string;
  readonly instance: string;
  readonly jobId: string;
  /** COMPLETED, FAILED, TIMEOUT, CANCELLED, NODE_FAIL, OUT_OF_MEMORY, DEPENDENCY_NEVER_SATISFIED, … */
  readonly state: string;
  readonly exitCode: number | null;
  readonly log: string;
  readonly detail: string;
}> {}

export interface SlurmOptions {
  readonly partition?: string;
  readonly account?: string;
  readonly qos?: string;
  /** Extra sbatch arguments, passed as given (after the ones acft sets, so they win). */
  readonly sbatchArgs?: ReadonlyArray<string>;
  /** How often the queue is polled (default 2 s; ACFT_SLURM_POLL_MS). */
  readonly pollMs?: number;
  /** Timeout of each Slurm client call (default 60 s; ACFT_SLURM_TIMEOUT_MS). */
  readonly clientTimeoutMs?: number;
}

const cut = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** Run a Slurm client with a timeout; stdout on success, SlurmCommandFailed otherwise. */
export const slurmCall = (bin: string, args: ReadonlyArray<string>, timeoutMs: number): Promise<string> =>
  new Promise((res, rej) => {
    execFile(bin, [...args], { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 << 20, encoding: "utf8" }, (err, stdout, stderr) => {
      if (!err) return res(stdout);
      const command = cut(`${bin} ${args.join(" ")}`);
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
      const why = e.killed ? `did not answer within ${(timeoutMs / 1000).toFixed(0)} s (is slurmctld up? SLURM_CONF=${process.env.SLURM_CONF ?? "default"})`
        : e.code === "ENOENT" ? "is not installed here (install the Slurm client tools, or use --executor local)"
        : `failed (exit ${e.code}): ${cut(String(stderr).trim() || e.message)}`;
      rej(new SlurmCommandFailed({ message: `${command} ${why}`, command }));
    });
  });

/** A job as the head sees it. `state` is Slurm's base state (CANCELLED without "by N"). */
export interface JobInfo {
  readonly id: string;
  readonly state: string;
  readonly node: string;
  readonly reason: string;
  readonly exitCode: number | null;
  readonly signal: number | null;
}

const ACTIVE = new Set(["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"]);
export const isActive = (state: string): boolean => ACTIVE.has(state);

/** Job id list → state, node, reason (one squeue for all; jobs Slurm has forgotten are absent). */
export const squeue = async (ids: ReadonlyArray<string>, timeoutMs: number): Promise<Map<string, JobInfo>> => {
  const out = new Map<string, JobInfo>();
  if (ids.length === 0) return out;
  let text: string;
  try {
    text = await slurmCall("squeue", ["--noheader", "--states=all", `--jobs=${ids.join(",")}`, "--format=%i|%T|%N|%r"], timeoutMs);
  } catch (e) {
    if (/Invalid job id/i.test((e as Error).message)) return out; // none of them is known any more
    throw e;
  }
  for (const line of text.split("\n")) {
    const [id, state, node, reason] = line.trim().split("|");
    if (id && state) out.set(id, { id, state: state.split(" ")[0], node: node ?? "", reason: reason ?? "", exitCode: null, signal: null });
  }
  return out;
};

const exitOf = (s: string | undefined): [number | null, number | null] => {
  const m = /^(\d+):(\d+)$/.exec(s ?? "");
  return m ? [Number(m[1]), Number(m[2])] : [null, null];
};

/** Details of one job: scontrol while the controller remembers it, else sacct (when accounting exists). */
export const jobDetails = async (id: string, timeoutMs: number): Promise<JobInfo | undefined> => {
  try {
    const line = await slurmCall("scontrol", ["show", "job", "-o", id], timeoutMs);
    const f = Object.fromEntries([...line.matchAll(/(?:^|\s)([\w/:]+)=(\S*)/g)].map((m) => [m[1], m[2]]));
    const [exitCode, signal] = exitOf(f.ExitCode);
    if (f.JobState) return { id, state: f.JobState, node: f.NodeList && f.NodeList !== "(null)" ? f.NodeList : "", reason: f.Reason ?? "", exitCode, signal };
  } catch (e) {
    if (!/Invalid job id/i.test((e as Error).message)) throw e;
  }
  try {
    const text = await slurmCall("sacct", ["--noheader", "--parsable2", "--allocations", `--jobs=${id}`, "--format=JobID,State,ExitCode,NodeList,Reason"], timeoutMs);
    const row = text.split("\n").map((l) => l.split("|")).find((r) => r[0] === id);
    if (row) {
      const [exitCode, signal] = exitOf(row[2]);
      return { id, state: row[1].split(" ")[0], node: row[3] ?? "", reason: row[4] ?? "", exitCode, signal };
    }
  } catch {
    // no accounting storage: nothing more to learn
  }
  return undefined;
};

/** A terminal state in words, for the error a user reads. */
export const classify = (info: JobInfo): { state: string; why: string } => {
  if (info.reason === "DependencyNeverSatisfied")
    return { state: "DEPENDENCY_NEVER_SATISFIED", why: "its dependency can never be satisfied (a job it depends on failed); fix or drop the --dependency" };
  switch (info.state) {
    case "FAILED": return { state: "FAILED", why: `it exited with code ${info.exitCode ?? "?"}${info.signal ? ` (signal ${info.signal})` : ""}` };
    case "TIMEOUT": return { state: "TIMEOUT", why: "it reached its time limit; raise it with --set <stage>.resources.minutes=M" };
    case "CANCELLED": return { state: "CANCELLED", why: "it was cancelled (scancel, an administrator or a preemption)" };
    case "NODE_FAIL": return { state: "NODE_FAIL", why: `its node ${info.node || "?"} failed; rerun the same command to resubmit it` };
    case "OUT_OF_MEMORY": return { state: "OUT_OF_MEMORY", why: "it ran out of memory; raise it with --set <stage>.resources.memMB=N" };
    case "BOOT_FAIL": return { state: "BOOT_FAIL", why: "its node failed to boot; rerun to resubmit" };
    case "DEADLINE": return { state: "DEADLINE", why: "it reached its deadline" };
    case "PREEMPTED": return { state: "PREEMPTED", why: "it was preempted; rerun to resubmit" };
    case "COMPLETED": return { state: "COMPLETED", why: "it completed" };
    default: return { state: info.state || "UNKNOWN", why: `it ended in state ${info.state || "UNKNOWN"}${info.reason && info.reason !== "None" ? ` (${info.reason})` : ""}` };
  }
};

/** sbatch arguments for a job's resources and the cluster options (the extra arguments last, so they win). */
export const sbatchArgs = (r: Resources, o: SlurmOptions): string[] => [
  `--cpus-per-task=${r.cpus ?? 1}`,
  ...(r.memMB !== undefined ? [`--mem=${r.memMB}M`] : []),
  ...(r.gpus ? [`--gres=gpu:${r.gpus}`] : []),
  ...(r.minutes !== undefined ? [`--time=${Math.floor(r.minutes)}:${String(Math.round((r.minutes % 1) * 60)).padStart(2, "0")}`] : []),
  ...(o.partition ? [`--partition=${o.partition}`] : []),
  ...(o.account ? [`--account=${o.account}`] : []),
  ...(o.qos ? [`--qos=${o.qos}`] : []),
  ...(o.sbatchArgs ?? []),
];

const logName = (instanceId: string): string => instanceId.replace(/[^\w.=,+-]/g, "_").slice(0, 80);

/** Slurm job names: the instance id, with characters outside a safe set replaced, cut to 120 characters. */
export const jobName = (instanceId: string): string => `acft:${instanceId.replace(/[^\w.,=:+@\[\]-]/g, "_")}`.slice(0, 120);

const TSX = import.meta.resolve("tsx");
const SLURM_WORKER = new URL("./slurmWorkerMain.ts", import.meta.url);
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The batch script: run the staged job through the bundle (when it has the stage) or tsx. */
const script = (job: Job, jobFile: string): string => {
  const b = workerBundle();
  const cmd = b?.has(job.moduleUrl) && existsSync(b.entry)
    ? [process.execPath, b.entry, "--acft-slurm-worker", jobFile]
    : [process.execPath, "--import", TSX, new URL(SLURM_WORKER).pathname, jobFile];
  return [
    "#!/bin/sh",
    `# acft stage instance ${job.instanceId.replace(/\n/g, " ")}`,
    'export ACFT_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
    `exec ${cmd.map(q).join(" ")}`,
    "",
  ].join("\n");
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const envMs = (name: string, dflt: number) => (Number(process.env[name]) > 0 ? Number(process.env[name]) : dflt);

export const slurmExecutor = (engine: Engine, opts: SlurmOptions): Executor => {
  const pollMs = opts.pollMs ?? envMs("ACFT_SLURM_POLL_MS", 2000);
  const timeoutMs = opts.clientTimeoutMs ?? envMs("ACFT_SLURM_TIMEOUT_MS", 60_000);
  const logs = join(engine.root, "logs", "slurm");

  // One poller for all jobs in flight: a single squeue per tick.
  const waiting = new Map<string, { tick: (i: JobInfo | undefined) => void; error: (e: unknown) => void }>();
  let polling = false;
  const poll = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    try {
      while (waiting.size > 0) {
        await sleep(pollMs);
        try {
          const infos = await squeue([...waiting.keys()], timeoutMs);
          for (const [id, w] of [...waiting]) w.tick(infos.get(id));
        } catch (e) {
          for (const w of waiting.values()) w.error(e);
        }
      }
    } finally {
      polling = false;
    }
  };

  /** Wait until job `id` ends; relays live events; returns its final details. */
  const follow = (row: JobRow, sink: Sink): Promise<JobInfo> =>
    new Promise((resolve, reject) => {
      let offset = 0, last = row.state, warned = 0, detailFailures = 0;
      const waits = (i: JobInfo) => isActive(i.state) && i.reason !== "DependencyNeverSatisfied";
      const watch = () => (waiting.set(row.job_id, entry), void poll());
      const entry = {
        tick: (info: JobInfo | undefined) => {
          warned = 0;
          const r = readEvents(row.staging, offset);
          offset = r.offset;
          relay(r.events, sink, "live");
          if (info && info.state !== last) {
            last = info.state;
            updateJob(engine.db, "slurm", row.job_id, { state: info.state, node: info.node, reason: info.reason });
          }
          if (info && waits(info)) return;
          // Finished, or missing from squeue's answer: ask scontrol/sacct (no further ticks meanwhile).
          waiting.delete(row.job_id);
          jobDetails(row.job_id, timeoutMs).then(
            (d) => {
              if (d && waits(d)) return watch(); // squeue missed a job that is still queued or running
              relay(readEvents(row.staging, offset).events, sink, "live");
              resolve(d ?? info ?? { id: row.job_id, state: "UNKNOWN", node: "", reason: "Slurm no longer knows the job", exitCode: null, signal: null });
            },
            (e) => {
              // A loaded controller times out now and then: retry on the next ticks, give up after 20 failures.
              if (++detailFailures >= 20) return reject(e);
              if (detailFailures === 1) sink.log(`asking Slurm about job ${row.job_id} failed (${cut((e as Error).message)}); retrying`);
              watch();
            },
          );
        },
        error: (e: unknown) => {
          // The controller may be restarting: warn and keep polling (each call is bounded by the timeout).
          if (warned++ === 0) sink.log(`polling Slurm failed (${cut((e as Error).message)}); retrying`);
        },
      };
      watch();
    });

  const outcome = async (row: JobRow, job: Job, kind: "value" | "directory", sink: Sink): Promise<ExecResult> => {
    const info = await follow(row, sink);
    const { state, why } = classify(info);
    // Without DependencyParameters=kill_invalid_depend such a job would stay queued for ever.
    if (state === "DEPENDENCY_NEVER_SATISFIED" && isActive(info.state)) await slurmCall("scancel", [row.job_id], timeoutMs).catch(() => {});
    const done = readStagedResult(row.staging);
    // A job whose result record is complete succeeded, even if Slurm forgot it meanwhile.
    const completed = state === "COMPLETED" || (state === "UNKNOWN" && done?.ok === true);
    updateJob(engine.db, "slurm", row.job_id, { state: completed ? "COMPLETED" : state, node: info.node, reason: info.reason, exitCode: info.exitCode });
    if (completed) return collectStaged(engine.store, row.staging, job, kind, sink);
    const stageError = done && !done.ok ? done.detail : "";
    const logTail = existsSync(row.log) ? readFileSync(row.log, "utf8").split("\n").slice(-12).join("\n") : `(no log at ${row.log})`;
    discardStaging(row.staging);
    throw new SlurmJobFailed({
      message: `stage ${job.instanceId}: Slurm job ${row.job_id} ${state}: ${why}${done && !done.ok ? `: ${cut(done.message.split("\n")[0])}` : ""}; log ${row.log}`,
      instance: job.instanceId, jobId: row.job_id, state, exitCode: info.exitCode, log: row.log,
      detail: stageError || logTail,
    });
  };

  const release = (jobId: string) => slurmCall("scontrol", ["release", jobId], timeoutMs);

  /**
   * A job that a head killed between `sbatch` and recording it left behind. Jobs are submitted held
   * and released only once recorded, so such a job is still pending, held, and found by its name; its
   * comment names its staging directory, whose job.json says which cache key it computes.
   */
  const orphan = async (job: Job, runId: number): Promise<JobRow | undefined> => {
    const text = await slurmCall("squeue", ["--noheader", "--states=PENDING", `--name=${jobName(job.instanceId)}`, "--format=%i|%r|%k"], timeoutMs);
    for (const line of text.split("\n")) {
      const [jobId, reason, comment] = line.trim().split("|");
      if (!jobId || reason !== "JobHeldUser" || !comment || comment.includes("/")) continue;
      const staging = join(stagingRoot(engine.root), comment);
      const staged = existsSync(join(staging, "job.json")) ? (JSON.parse(readFileSync(join(staging, "job.json"), "utf8")) as Job) : undefined;
      if (staged?.key !== job.key) continue;
      const logPattern = join(logs, `${logName(job.instanceId)}.%j.log`);
      const row: JobRow = { job_id: jobId, run_id: runId, instance_id: job.instanceId, cache_key: job.key, staging, log: logPattern.replace("%j", jobId), state: "PENDING", node: "" };
      recordJob(engine.db, "slurm", row);
      return row;
    }
    return undefined;
  };

  /** A job of an earlier head for this key that is still queued or running, or finished with a result. */
  const reattachable = async (job: Job, runId: number): Promise<JobRow | undefined> => {
    const key = job.key;
    const prev = latestJob(engine.db, "slurm", key);
    if (!prev || !existsSync(prev.staging)) {
      const found = await orphan(job, runId);
      if (found) await release(found.job_id);
      return found;
    }
    const live = (await squeue([prev.job_id], timeoutMs)).get(prev.job_id);
    if (live && isActive(live.state)) {
      if (live.reason === "JobHeldUser") await release(prev.job_id); // recorded, but its head died before releasing it
      return prev;
    }
    if (readStagedResult(prev.staging)?.ok) return prev; // finished while no head watched
    // Ended without a result while no head watched: record how, drop what it wrote, submit anew.
    const info = (await jobDetails(prev.job_id, timeoutMs)) ?? live;
    updateJob(engine.db, "slurm", prev.job_id, { state: info ? classify(info).state : "UNKNOWN", node: info?.node, exitCode: info?.exitCode });
    discardStaging(prev.staging);
    return undefined;
  };

  return {
    name: "slurm",
    runsInline: false,
    execute: async (job, sink, ctx) => {
      const prev = await reattachable(job, ctx.runId);
      if (prev) {
        sink.log(`re-attached to Slurm job ${prev.job_id} (submitted by run ${prev.run_id}); log ${prev.log}`);
        updateJob(engine.db, "slurm", prev.job_id, { runId: ctx.runId });
        return outcome(prev, { ...job, outDir: join(prev.staging, "out") }, ctx.outputKind, sink);
      }
      const staged = createStaging(engine.root, job);
      const jobFile = join(staged.dir, "job.json");
      writeFileSync(join(staged.dir, "job.sh"), script(staged.job, jobFile), { mode: 0o755 });
      mkdirSync(logs, { recursive: true });
      const logPattern = join(logs, `${logName(job.instanceId)}.%j.log`);
      // Held until recorded: a head killed in between leaves a job that cannot run, which the next head
      // finds by its name and comment (`orphan`) instead of submitting the instance a second time.
      const args = ["--parsable", "--no-requeue", "--hold", `--comment=${basename(staged.dir)}`, `--job-name=${jobName(job.instanceId)}`, `--output=${logPattern}`, `--chdir=${process.cwd()}`,
        ...sbatchArgs(ctx.resources, opts), join(staged.dir, "job.sh")];
      let out: string;
      try {
        out = await slurmCall("sbatch", args, timeoutMs);
      } catch (e) {
        discardStaging(staged.dir);
        throw e;
      }
      const jobId = out.trim().split(";")[0];
      if (process.env.ACFT_TEST_KILL_AT === "submitted") process.kill(process.pid, "SIGKILL"); // tests: a head dying in the window
      const row: JobRow = { job_id: jobId, run_id: ctx.runId, instance_id: job.instanceId, cache_key: job.key, staging: staged.dir,
        log: logPattern.replace("%j", jobId), state: "PENDING", node: "" };
      recordJob(engine.db, "slurm", row);
      if (process.env.ACFT_TEST_KILL_AT === "recorded") process.kill(process.pid, "SIGKILL");
      await release(jobId);
      sink.log(`submitted as Slurm job ${jobId}; log ${row.log}`);
      return outcome(row, staged.job, ctx.outputKind, sink);
    },
  };
};
