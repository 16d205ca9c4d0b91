// The executor: topological scheduling with bounded concurrency, cache lookups, per-key locks, inline or
// forked execution, atomic publication of outputs, and the run/execution records.
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ArtifactStore, digestExternal, makeDir, pidAlive, type ArtifactKind } from "./ArtifactStore.ts";
import { ArtifactCorrupt, boundText, DatabaseError, isEngineError, LockTimeout, StageFailed, storeError } from "./Errors.ts";
import { executeStage, type Job, type JobResult, type Sink } from "./Exec.ts";
import { localExecutor, withRetries, type ExecResult, type Executor } from "./Executor.ts";
import type { Plan, PlanNode } from "./Graph.ts";
import { codeOf, keyOf, type KeyParts } from "./Keys.ts";
import { databaseError, RunStore, STALE_LOCK_MS, type CacheEntry, type TableEmit } from "./RunStore.ts";
import type { Row } from "./Stage.ts";
import type { FromWorker } from "./Worker.ts";

export type InstanceStatus = "ran" | "cached" | "failed" | "skipped";

export interface InstanceResult {
  readonly id: string;
  readonly stage: string;
  readonly status: InstanceStatus;
  readonly seconds: number;
  readonly key?: string;
  readonly error?: string;
}

export interface RunSummary {
  readonly runId: number;
  readonly pipeline: string;
  readonly instances: ReadonlyArray<InstanceResult>;
  readonly seconds: number;
}

export type RunEvent =
  | { readonly type: "start"; readonly id: string; readonly stage: string }
  | { readonly type: "wait"; readonly id: string; readonly holder: string }
  | { readonly type: "progress"; readonly id: string; readonly done: number; readonly total: number; readonly label?: string }
  | { readonly type: "log"; readonly id: string; readonly message: string }
  /** Something the engine repaired on its own (a corrupt object recomputed); the run goes on. */
  | { readonly type: "warn"; readonly id: string; readonly message: string }
  | { readonly type: "finish"; readonly result: InstanceResult };

export interface RunOptions {
  /** Concurrent stage executions (default: the number of cores). */
  readonly jobs?: number;
  /** Keep running what does not depend on a failure (default: stop launching after the first failure). */
  readonly keepGoing?: boolean;
  /** How long to wait for another process computing the same instance (default 2 h). */
  readonly lockTimeoutMs?: number;
  readonly command?: string;
  readonly onEvent?: (e: RunEvent) => void;
  /** Where forked instances execute (default: local worker processes; `jobs` is the concurrency). */
  readonly executor?: (engine: Engine, jobs: number) => Executor;
  /** Re-execute a failed instance up to this many times (default 0). */
  readonly retries?: number;
}

const WORKER = new URL("./workerMain.ts", import.meta.url);
/** tsx resolved from here, not from the cwd, so `acft` works from any directory. */
const TSX = import.meta.resolve("tsx");

/** The precompiled bundle this process runs from (scripts/bundle.mjs), when it does. */
export interface WorkerBundle {
  /** Path of the bundle file; forked as `node <entry> --acft-worker`. */
  readonly entry: string;
  /** Whether the bundle contains the module with this source file URL. */
  readonly has: (moduleUrl: string) => boolean;
}
let bundle: WorkerBundle | undefined;
/** The bundle this process runs from, if any (executors that start workers elsewhere run them from it too). */
export const workerBundle = (): WorkerBundle | undefined => bundle;

/** Called by the bundle's entry: fork workers from it (no tsx) for the stages it contains. */
export const useWorkerBundle = (b: WorkerBundle | undefined): void => {
  bundle = b;
};

/**
 * Bundled worker when the stage's module is in this process's bundle, else workerMain.ts through tsx
 * (also when the bundle file was pruned meanwhile: a run lasting days while sources change).
 */
const spawnWorker = (moduleUrl: string, env?: NodeJS.ProcessEnv) => {
  const opts = { stdio: ["ignore", "pipe", "pipe", "ipc"] as ("ignore" | "pipe" | "ipc")[], serialization: "advanced" as const, env };
  return bundle?.has(moduleUrl) && existsSync(bundle.entry)
    ? fork(bundle.entry, ["--acft-worker"], { ...opts, execArgv: process.env.ACFT_SOURCE_MAPS === "1" ? ["--enable-source-maps"] : [] })
    : fork(WORKER, [], { ...opts, execArgv: ["--import", TSX] });
};
const HEARTBEAT_MS = 2000;
/** Size of the store's reserve file: several SQLite pages with their WAL frames. */
const RESERVE_BYTES = 256 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Produced {
  readonly kind: ArtifactKind;
  readonly digest: string;
  /** For external inputs: the original path handed to dependants. */
  readonly path?: string;
  readonly key: string;
}

/** Run a stage job in a child process, relaying its messages to `sink`. */
export const forkJob = (job: Job, sink: Sink, env?: NodeJS.ProcessEnv): Promise<JobResult> =>
  new Promise((resolve, reject) => {
    const child = spawnWorker(job.moduleUrl, env);
    const stderr: string[] = [];
    let settled = false;
    const lines = (buf: Buffer, keep?: string[]) =>
      buf.toString().split("\n").filter((l) => l.trim() !== "").forEach((l) => (keep?.push(l), keep && keep.length > 30 && keep.shift(), sink.log(l)));
    child.stdout!.on("data", (b: Buffer) => lines(b));
    child.stderr!.on("data", (b: Buffer) => lines(b, stderr));
    child.on("message", (m: FromWorker) => {
      if (m.t === "progress") sink.progress(m.done, m.total, m.label);
      else if (m.t === "metric") sink.metric(m.name, m.value, m.step);
      else if (m.t === "log") sink.log(m.message);
      else if (m.t === "table") sink.table(m.name, m.rows as ReadonlyArray<Row>);
      else if (m.t === "done") (settled = true), resolve({ text: m.text });
      else (settled = true), reject(new StageFailed({ message: m.message, instance: job.instanceId, detail: m.detail }));
    });
    child.on("error", (e) => settled || ((settled = true), reject(e)));
    child.on("exit", (code, signal) => {
      if (settled) return;
      settled = true;
      const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(new StageFailed({
        message: `stage ${job.instanceId}: its worker process ${why} before finishing`,
        instance: job.instanceId,
        detail: stderr.slice(-10).join("\n"),
      }));
    });
    child.send({ t: "run", job });
  });

export class Engine {
  readonly store: ArtifactStore;
  readonly db: RunStore;

  constructor(readonly root: string) {
    try {
      makeDir(root);
    } catch (e) {
      throw storeError(e, root, "create the store directory");
    }
    // The store first: its errors name the filesystem's problem (read-only, a file in the way) precisely.
    this.store = new ArtifactStore(root, { get: (p, s) => this.db.hashCache.get(p, s), put: (p, s, h) => this.db.hashCache.put(p, s, h) });
    this.db = new RunStore(root);
  }

  close(): void {
    this.db.close();
  }

  /**
   * A small file kept in the store while a run goes on, deleted when the run database fails (a full disk):
   * its space lets the run still release its locks and record itself as failed.
   */
  private get reservePath(): string {
    return join(this.root, "store", "reserve");
  }

  private keepReserve(): void {
    try {
      if (!existsSync(this.reservePath)) writeFileSync(this.reservePath, Buffer.alloc(RESERVE_BYTES));
    } catch {
      rmSync(this.reservePath, { force: true }); // no room even for that: the run will say so itself
    }
  }

  releaseReserve(): void {
    rmSync(this.reservePath, { force: true });
  }

  /** Execute a plan; never throws for stage failures (they are in the summary). */
  async run(plan: Plan, opts: RunOptions = {}): Promise<RunSummary> {
    const t0 = performance.now();
    this.keepReserve();
    this.db.markInterrupted(pidAlive);
    const runId = this.db.startRun(plan.pipeline, opts.command ?? `run ${plan.pipeline}`);
    // Ctrl-C / SIGTERM: record the run as interrupted (forked workers exit when the parent goes away).
    const onSignal = (sig: NodeJS.Signals) => {
      this.db.markRunInterrupted(runId);
      process.exit(sig === "SIGINT" ? 130 : 143);
    };
    process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
    const scheduler = new Scheduler(this, plan, runId, opts);
    const results = await scheduler.all().finally(() => {
      process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    });
    const seconds = (performance.now() - t0) / 1000;
    const count = (s: InstanceStatus) => results.filter((r) => r.status === s).length;
    const failed = count("failed");
    try {
      this.db.finishRun(runId, { status: failed > 0 || scheduler.fatal ? "failed" : "succeeded", ran: count("ran"), cached: count("cached"), failed, seconds });
    } catch (e) {
      throw scheduler.fatal ?? databaseError(e, this.db.path, "record the end of the run");
    }
    // The run database failed part-way (e.g. a full disk): the run is over, marked failed; say why.
    if (scheduler.fatal) throw scheduler.fatal;
    return { runId, pipeline: plan.pipeline, instances: results, seconds };
  }
}

class Scheduler {
  private readonly produced = new Map<string, Produced>();
  private readonly results = new Map<string, InstanceResult>();
  private readonly code = new Map<string, Record<string, string>>();
  private stopped = false;
  /** The first failure of the run database: no further instance starts, and the run ends failed. */
  fatal: DatabaseError | undefined;
  private readonly emit: (e: RunEvent) => void;
  private executor!: Executor;

  constructor(private readonly engine: Engine, private readonly plan: Plan, private readonly runId: number, private readonly opts: RunOptions) {
    this.emit = opts.onEvent ?? (() => {});
  }

  async all(): Promise<InstanceResult[]> {
    const jobs = Math.max(1, this.opts.jobs ?? availableParallelism());
    this.executor = withRetries(this.opts.executor?.(this.engine, jobs) ?? localExecutor(forkJob, jobs), this.opts.retries ?? 0, (job, attempt, e) =>
      this.emit({ type: "log", id: job.instanceId, message: `attempt ${attempt} failed (${String((e as Error).message ?? e).split("\n")[0].slice(0, 200)}); retrying` }));
    const waiting = new Map(this.plan.nodes.map((n) => [n.id, n.kind === "stage" ? new Set(Object.values(n.inputs)) : new Set<string>()]));
    const ready = this.plan.nodes.filter((n) => waiting.get(n.id)!.size === 0);
    const users = new Map<string, PlanNode[]>(this.plan.nodes.map((n) => [n.id, []]));
    for (const n of this.plan.nodes) for (const d of waiting.get(n.id)!) users.get(d)!.push(n);
    let running = 0;
    await new Promise<void>((allDone) => {
      const finished = (n: PlanNode, ok: boolean) => {
        running--;
        for (const m of users.get(n.id)!) {
          const deps = waiting.get(m.id)!;
          deps.delete(n.id);
          if (!ok) this.skip(m, n.id, waiting);
          else if (deps.size === 0 && !this.results.has(m.id)) ready.push(m);
        }
        if (!ok && !this.opts.keepGoing) this.stopped = true;
        launch();
      };
      const launch = () => {
        while (!this.stopped && running < jobs && ready.length > 0) {
          const n = ready.shift()!;
          running++;
          this.one(n)
            .catch((e) => (this.fail(n, n.kind === "stage" ? n.stage.name : "external", 0, this.asFatal(e), undefined, undefined), false))
            .then((ok) => finished(n, ok));
        }
        if (running === 0) allDone();
      };
      launch();
    });
    for (const n of this.plan.nodes)
      if (n.kind === "stage" && !this.results.has(n.id)) this.results.set(n.id, { id: n.id, stage: n.stage.name, status: "skipped", seconds: 0, error: "not started: an earlier instance failed (use --keep-going to run independent work)" });
    return this.plan.nodes.flatMap((n) => this.results.get(n.id) ?? []); // externals appear only when they failed
  }

  /** Mark `m` and everything downstream of it as skipped because `cause` failed. */
  private skip(m: PlanNode, cause: string, waiting: Map<string, Set<string>>): void {
    if (this.results.has(m.id) || m.kind !== "stage") return;
    const r: InstanceResult = { id: m.id, stage: m.stage.name, status: "skipped", seconds: 0, error: `upstream ${cause} failed` };
    this.results.set(m.id, r);
    this.record(() => this.engine.db.recordExecution({ runId: this.runId, instanceId: m.id, stage: m.stage.name, status: "skipped", error: r.error }), true);
    this.emit({ type: "finish", result: r });
    for (const d of this.plan.nodes) if (waiting.get(d.id)!.has(m.id)) this.skip(d, cause, waiting);
  }

  private async one(n: PlanNode, retried = false): Promise<boolean> {
    if (n.kind === "external") {
      try {
        const digest = digestExternal(n.path, this.engine.db.hashCache);
        this.produced.set(n.id, { kind: "directory", digest, path: n.path, key: digest });
        return true;
      } catch (e) {
        this.fail(n, "external", 0, e, undefined, undefined);
        return false;
      }
    }
    const inputs = Object.fromEntries(Object.entries(n.inputs).map(([k, src]) => [k, this.produced.get(src)!]));
    const parts: KeyParts = {
      stage: n.stage.name, version: n.stage.version, code: codeOf(this.code, n.stage), params: n.paramsEncoded,
      inputs: Object.fromEntries(Object.entries(inputs).map(([k, p]) => [k, p.digest])),
    };
    const key = keyOf(parts);
    if (this.hit(n, key, parts)) return true;
    const t0 = performance.now();
    const token = randomUUID();
    let beat: NodeJS.Timeout | undefined;
    let corrupt: ArtifactCorrupt | undefined;
    try {
      if (await this.lock(n, key, parts, token, t0)) return true; // another process produced it meanwhile
      beat = setInterval(() => this.record(() => this.engine.db.heartbeat(key, token)), HEARTBEAT_MS);
      beat.unref();
      if (this.hit(n, key, parts)) return true;
      await this.compute(n, key, parts, inputs, t0);
      return true;
    } catch (e) {
      if (!retried && (e as { _tag?: string })._tag === "ArtifactCorrupt") corrupt = e as ArtifactCorrupt;
      else this.fail(n, n.stage.name, Math.round(performance.now() - t0) / 1000, this.asFatal(e), key, parts);
      if (corrupt === undefined) return false;
    } finally {
      if (beat) clearInterval(beat);
      this.record(() => this.engine.db.unlock(key, token), true);
    }
    // An input turned out corrupt when read: recompute its producer, then this instance (its key may change).
    return (await this.recover(n, corrupt!)) && this.one(n, true);
  }

  /**
   * An input object of `n` failed its digest check: remove it, drop the cache entries that point at it,
   * and recompute the instance that produced it (warning with its name). False when no producer is known.
   */
  private async recover(n: Extract<PlanNode, { kind: "stage" }>, e: ArtifactCorrupt): Promise<boolean> {
    const producer = this.plan.nodes.find((m) => m.kind === "stage" && this.produced.get(m.id)?.digest === e.digest);
    const kind = producer && this.produced.get(producer.id)!.kind;
    if (producer === undefined || kind === undefined) {
      this.fail(n, n.stage.name, 0, e, undefined, undefined);
      return false;
    }
    this.emit({ type: "warn", id: producer.id, message: `${e.message}: removed it; recomputing ${producer.id}, then ${n.id}` });
    this.engine.store.remove(kind, e.digest);
    this.record(() => this.engine.db.cacheDeleteDigest(e.digest), true);
    this.produced.delete(producer.id);
    this.results.delete(producer.id);
    return this.one(producer, true);
  }

  /**
   * Run a run-database write; its failure becomes the run's fatal error instead of a crash. After such a
   * failure only `essential` writes (releasing locks, recording failures) are still attempted.
   */
  private record<A>(write: () => A, essential = false): A | undefined {
    if (this.fatal && !essential) return undefined;
    try {
      return write();
    } catch (e) {
      this.asFatal(e);
      return undefined;
    }
  }

  /** A failure of the run database stops the run (recorded once as `fatal`); other errors pass through. */
  private asFatal(e: unknown): unknown {
    const d = databaseError(e, this.engine.db.path, "write");
    if ((d as { _tag?: string })._tag !== "DatabaseError") return e;
    if (this.fatal === undefined) {
      this.fatal = d as DatabaseError;
      this.engine.releaseReserve(); // room for the writes that end the run cleanly on a full disk
    }
    this.stopped = true;
    return d;
  }

  /**
   * A cache hit whose artifact is present and matches its digest: record it as cached. Entries whose
   * artifact vanished are dropped; a corrupt artifact is removed (with a warning) and recomputed.
   */
  private hit(n: Extract<PlanNode, { kind: "stage" }>, key: string, parts: KeyParts): boolean {
    const entry: CacheEntry | undefined = this.engine.db.cacheGet(key);
    if (entry === undefined) return false;
    const { store, db } = this.engine;
    if (!store.intact(entry.output_kind, entry.output_digest)) {
      if (store.has(entry.output_kind, entry.output_digest)) {
        this.emit({ type: "warn", id: n.id, message: `artifact ${store.path(entry.output_kind, entry.output_digest)} does not match its digest: removed it; recomputing ${n.id}` });
        store.remove(entry.output_kind, entry.output_digest);
        db.cacheDeleteDigest(entry.output_digest);
      } else db.cacheDelete(key);
      return false;
    }
    this.engine.db.restoreTables(entry, n.id);
    this.produced.set(n.id, { kind: entry.output_kind, digest: entry.output_digest, key });
    const r: InstanceResult = { id: n.id, stage: n.stage.name, status: "cached", seconds: 0, key };
    this.engine.db.recordExecution({ runId: this.runId, instanceId: n.id, stage: n.stage.name, key, keyParts: parts, status: "cached", seconds: 0, outputDigest: entry.output_digest });
    this.results.set(n.id, r);
    this.emit({ type: "finish", result: r });
    return true;
  }

  /** Take the per-key lock, waiting for another holder; true when the holder's result turned up meanwhile. */
  private async lock(n: Extract<PlanNode, { kind: "stage" }>, key: string, parts: KeyParts, token: string, t0: number): Promise<boolean> {
    const timeout = this.opts.lockTimeoutMs ?? 2 * 3600_000;
    let announced = false;
    for (;;) {
      const holder = this.engine.db.tryLock(key, n.id, token, pidAlive, STALE_LOCK_MS);
      if (holder === undefined) return false;
      const who = `${holder.instance_id} in process ${holder.pid} on ${holder.host}`;
      if (!announced) (announced = true), this.emit({ type: "wait", id: n.id, holder: who });
      if (performance.now() - t0 > timeout)
        throw new LockTimeout({
          message: `instance ${n.id}: waited ${(timeout / 1000).toFixed(timeout < 10_000 ? 1 : 0)} s for ${who}, which computes the same key; rerun later or raise --lock-timeout`,
          key, holder: who,
        });
      await sleep(150);
      const entry = this.engine.db.cacheGet(key);
      if (entry && this.engine.store.has(entry.output_kind, entry.output_digest) && this.hit(n, key, parts)) return true;
    }
  }

  private async compute(n: Extract<PlanNode, { kind: "stage" }>, key: string, parts: KeyParts, inputs: Record<string, Produced>, t0: number): Promise<void> {
    const { db, store } = this.engine;
    const startedAt = new Date().toISOString();
    db.recordExecution({ runId: this.runId, instanceId: n.id, stage: n.stage.name, key, keyParts: parts, status: "running", startedAt });
    this.emit({ type: "start", id: n.id, stage: n.stage.name });
    // The output directory is created on first use: trivial value stages never touch the disk for it.
    let scratch: string | undefined;
    const outDir = (): string => {
      if (scratch === undefined) (scratch = store.scratch()), mkdirSync(join(scratch, "out"));
      return join(scratch, "out");
    };
    const tables: TableEmit[] = [];
    const sink: Sink = {
      progress: (done, total, label) => this.emit({ type: "progress", id: n.id, done, total, label }),
      metric: (name, value, step) => void this.record(() => db.metric(this.runId, n.id, key, name, value, step)),
      log: (message) => this.emit({ type: "log", id: n.id, message }),
      table: (name, rows) => tables.push({ name, rows }),
    };
    try {
      const job: Job = {
        moduleUrl: n.stage.module, stageName: n.stage.name, instanceId: n.id, key, params: n.paramsEncoded,
        outDir: n.stage.process === "fork" || n.stage.output.kind === "directory" ? outDir() : "",
        inputSeconds: Object.fromEntries(Object.entries(inputs).flatMap(([k, p]) => {
          const s = p.path === undefined ? db.cacheGet(p.key)?.seconds : undefined;
          return typeof s === "number" ? [[k, s]] : [];
        })),
        checkpointDir: join(store.root, "store", "checkpoints", key),
        inputs: Object.fromEntries(Object.entries(inputs).map(([k, p]) => [
          k, p.path !== undefined ? { path: p.path } : p.kind === "directory" ? { path: store.dirPath(p.digest) } : { json: JSON.parse(store.readValue(p.digest)) },
        ])),
      };
      const r: ExecResult = n.stage.process === "inline" && this.executor.runsInline ? await executeStage(n.stage, job, sink, outDir)
        : await this.executor.execute(job, sink, { runId: this.runId, stage: n.stage.name, outputKind: n.stage.output.kind, resources: n.resources ?? {} });
      if (this.fatal) throw this.fatal; // a metric could not be recorded: do not cache a half-recorded result
      const put = r.put ?? (r.text !== undefined ? store.putValue(r.text) : store.putDirectory(outDir()));
      if (put.replaced)
        this.emit({ type: "warn", id: n.id, message: `the store held a corrupt copy of this output (${put.digest.slice(0, 12)}…): replaced it with the fresh one` });
      const seconds = Math.round(performance.now() - t0) / 1000;
      const sourceKeys = Object.fromEntries(Object.entries(inputs).map(([k, p]) => [k, p.key]));
      db.commitSuccess({ runId: this.runId, instanceId: n.id, stage: n.stage.name, key, keyParts: parts, kind: n.stage.output.kind,
        digest: put.digest, bytes: put.bytes, tables, sourceKeys, startedAt, seconds });
      this.produced.set(n.id, { kind: n.stage.output.kind, digest: put.digest, key });
      rmSync(job.checkpointDir!, { recursive: true, force: true });
      const res: InstanceResult = { id: n.id, stage: n.stage.name, status: "ran", seconds, key };
      this.results.set(n.id, res);
      this.emit({ type: "finish", result: res });
    } finally {
      // A failing clean-up must not replace the stage's own error (or fail a success): warn, and
      // leave the directory to `gc`, which removes scratch of finished processes.
      if (scratch)
        try {
          rmSync(scratch, { recursive: true, force: true });
        } catch (e) {
          this.emit({ type: "warn", id: n.id, message: `could not remove its scratch directory ${scratch} (${(e as Error).message}); \`acft gc\` removes it later` });
        }
    }
  }

  private fail(n: PlanNode, stage: string, seconds: number, e: unknown, key: string | undefined, parts: KeyParts | undefined): void {
    const message = isEngineError(e) || e instanceof Error ? e.message : String(e);
    const detail = (e as { detail?: string }).detail;
    const error = boundText(detail && !message.includes(detail) ? `${message}\n${detail}` : message);
    const r: InstanceResult = { id: n.id, stage, status: "failed", seconds, key, error };
    this.results.set(n.id, r);
    this.record(() => this.engine.db.recordExecution({ runId: this.runId, instanceId: n.id, stage, key, keyParts: parts, status: "failed", seconds, error }), true);
    this.emit({ type: "finish", result: r });
  }
}

