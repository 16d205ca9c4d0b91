// Stage factory `schedules`: the sequential-vs-parallel comparison of the ablations (docs/method.md §4) —
// one row per schedule with toxicity_pct ↓, perplexity ↓ and wall_seconds ↓.
// wall_seconds is the schedule's critical path over the measured durations of its iteration jobs
// (sample, train-NADO, fine-tune; the engine's record of how long each execution took, a run fact
// that appears in the table only, never in the stage's output): iteration 1 is a chain in both schedules;
// from iteration 2 on, the sequential jobs form a chain (sum) while the parallel ones depend only on
// iteration i−1 (max) — the wall-clock of an executor with one core per job. total_seconds is the sum
// (the wall-clock on one core). Input names: `<schedule>_<iteration>_<job>` (job dirs), and
// `<schedule>Tox` / `<schedule>Ppl` (the evaluations of the schedule's final model).
import { Schema } from "effect";
import { defineStage, Output, type OutputSpec, type Row } from "../engine/Stage.ts";
import { syncStage } from "./common.ts";
import { ToxicityOutput } from "./evalToxicity.ts";
import { PerplexityOutput } from "./evalPerplexity.ts";

export const SCHEDULES = ["sequential", "parallel"] as const;
export type Schedule = (typeof SCHEDULES)[number];

/** Critical path of one schedule: Σ over iterations of (i = 1 or sequential ? Σ jobs : max jobs). */
export const criticalPath = (schedule: Schedule, byIteration: ReadonlyMap<number, readonly number[]>): number =>
  [...byIteration].reduce((s, [i, xs]) => s + (i === 1 || schedule === "sequential" ? xs.reduce((a, b) => a + b, 0) : Math.max(...xs)), 0);

const JOB = /^(sequential|parallel)_(\d+)_(\w+)$/;

/** A schedules stage over the given job input names (`<schedule>_<iteration>_<job>`). */
export const schedulesStage = (jobs: readonly string[]) => {
  const inputs: Record<string, OutputSpec> = Object.fromEntries(jobs.map((j) => [j, Output.directory()]));
  for (const s of SCHEDULES) (inputs[`${s}Tox`] = Output.value(ToxicityOutput)), (inputs[`${s}Ppl`] = Output.value(PerplexityOutput));
  return defineStage({
    name: "schedules",
    version: 1,
    description: "sequential vs parallel schedule: quality and wall-clock",
    module: import.meta.url,
    process: "inline",
    params: Schema.Struct({}),
    inputs,
    // The output holds the deterministic part (quality); the timings go to the table rows only.
    output: Output.value(Schema.Array(Schema.Struct({ schedule: Schema.String, toxicity_pct: Schema.Number, perplexity: Schema.Number }))),
    run: ({ inputs: ins, ctx }) =>
      syncStage(() => {
        const v = ins as Record<string, any>;
        const rows = SCHEDULES.map((schedule) => {
          const byIteration = new Map<number, number[]>();
          for (const j of Object.keys(v)) { // the job inputs, in their order (a batch-job worker has no `jobs`)
            const m = JOB.exec(j);
            if (!m || m[1] !== schedule) continue;
            const secs = ctx.inputSeconds(j) ?? Number.NaN;
            byIteration.set(Number(m[2]), [...(byIteration.get(Number(m[2])) ?? []), secs]);
          }
          const total = [...byIteration.values()].flat().reduce((a, b) => a + b, 0);
          return { schedule, toxicity_pct: v[`${schedule}Tox`].toxicity_pct, perplexity: v[`${schedule}Ppl`].perplexity, wall_seconds: criticalPath(schedule, byIteration), total_seconds: total };
        });
        ctx.table("schedules", rows as Row[]);
        return rows.map(({ schedule, toxicity_pct, perplexity }) => ({ schedule, toxicity_pct, perplexity }));
      }),
  });
};

/**
 * What batch-job workers (`--executor slurm`) import: they find a stage by module and name, so the factory's
 * stages must have an exported one of the same name; `run` reads the job names from its inputs.
 */
export const schedules = schedulesStage([]);
