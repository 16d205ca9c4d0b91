// Shared glue for the stage files: one backend per worker process, ML work as an Effect, progress
// adapters, and the small JSON/JSONL helpers stages use for their directory outputs.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Data, Effect } from "effect";
import type { StageContext } from "../engine/Stage.ts";
import { trainCheckpointHooks } from "../ml/checkpoint.ts";

/** A stage's input was not what it expected (a file missing from a directory input, an empty set). */
export class StageInputError extends Data.TaggedError("StageInputError")<{ readonly stage: string; readonly message: string }> {}

let backend: Promise<string> | undefined;

/**
 * Initialise the tfjs backend once per process. The choice comes from ACFT_BACKEND (set by the global
 * `--backend` flag, inherited by forked workers), else "auto" (ml/backend.ts resolution order).
 */
export const ensureBackend = (): Promise<string> =>
  (backend ??= import("../ml/backend.ts").then(async ({ initBackend }) => {
    const choice = await initBackend(process.env.ACFT_BACKEND || "auto");
    return `${choice.name} (${choice.detail.split("; skipped:")[0]})`;
  }));

/**
 * Run ML work (async, may throw typed errors) as the stage's Effect, after the backend is up.
 * The backend description goes to the stage log once.
 */
export const mlStage = <A>(ctx: StageContext, work: () => Promise<A>): Effect.Effect<A, unknown> =>
  Effect.tryPromise({
    try: async () => {
      ctx.log(`backend ${await ensureBackend()}`);
      const t0 = performance.now();
      const out = await work();
      // Durations are run facts (metrics), never part of an output: outputs must be byte-identical across runs.
      ctx.metric("work_seconds", (performance.now() - t0) / 1000);
      // CPU seconds of this worker process (startup included): on a shared machine wall-clock says little.
      const cpu = process.cpuUsage();
      ctx.metric("cpu_seconds", (cpu.user + cpu.system) / 1e6);
      return out;
    },
    catch: (e) => e,
  });

/** Plain (non-ML) work as an Effect that keeps typed errors. */
export const syncStage = <A>(work: () => A): Effect.Effect<A, unknown> => Effect.try({ try: work, catch: (e) => e });

/**
 * Where and how often a training stage saves its resumable state: ctx.checkpointDir every
 * ACFT_CHECKPOINT_EVERY steps (default 100; 0 turns it off). A stage executed again after a failure,
 * a Slurm TIMEOUT or a node failure (`--retries`, or a rerun) resumes from the last save, bit for bit.
 */
export const checkpointing = (ctx: StageContext): { dir: string; every: number } | undefined => {
  const raw = process.env.ACFT_CHECKPOINT_EVERY;
  const every = raw === undefined || raw === "" ? 100 : Number(raw);
  if (!Number.isInteger(every) || every < 0)
    throw new StageInputError({ stage: ctx.instanceId, message: `${ctx.instanceId}: ACFT_CHECKPOINT_EVERY must be an integer >= 0 (steps between saves; 0 = off), got "${raw!.slice(0, 200)}"` });
  return every === 0 ? undefined : { dir: ctx.checkpointDir, every };
};

/** train()'s checkpoint hooks for `checkpointing`'s place and interval (undefined: no checkpoints). */
export const checkpointHooks = (c: { dir: string; every: number } | undefined, config: unknown) =>
  c && trainCheckpointHooks(c.dir, c.every, config);

/** Training progress → the engine's bar (steps) and metrics (loss every `every` steps). */

export const trainProgress = (ctx: StageContext, label = "steps", every = 10) =>
  (p: { done: number; steps: number; loss: number; step: number; evalLoss?: number }): void => {
    ctx.progress(p.done, p.steps, label);
    if (p.step % every === 0 || p.done === p.steps) ctx.metric("loss", p.loss, p.step);
    if (p.evalLoss !== undefined) ctx.metric("eval_loss", p.evalLoss, p.step);
  };

/** Eval progress callbacks ({task, done, total}) → the engine's bar. */
export const evalProgress = (ctx: StageContext) =>
  (p: { readonly task: string; readonly done: number; readonly total: number }): void => ctx.progress(p.done, p.total, p.task);

export const writeJson = (dir: string, name: string, value: unknown): void => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), JSON.stringify(value, null, 1) + "\n");
};

export const readJson = <A>(dir: string, name: string): A => JSON.parse(readFileSync(join(dir, name), "utf8")) as A;

export const writeJsonl = (dir: string, name: string, rows: ReadonlyArray<unknown>): void =>
  writeFileSync(join(dir, name), rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : ""));

export const readJsonl = <A>(dir: string, name: string): A[] =>
  readFileSync(join(dir, name), "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as A);
