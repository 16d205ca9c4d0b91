// `ablations` (docs/method.md §3–§4): the λ sweep, sequential vs parallel (quality and wall-clock), the
// number of iterations, the hard against the soft oracle constraint, and α — each a table. The sweeps
// evaluate toxicity on both halves of the prompts' fixed validation/test split and pick their best
// setting on validation only. The upstream (data, base LM, oracle, iteration 1's samples and NADO
// model) is shared through the cache with `paper`.
import { Schema } from "effect";
import { definePipeline } from "../engine/Pipeline.ts";
import { param } from "../engine/Params.ts";
import { ablationTableStage } from "../stages/ablationTable.ts";
import { schedulesStage } from "../stages/schedules.ts";
import { studyParams } from "./params.ts";
import { evaluate, evaluateToxicitySplit, iterate, upstream } from "./study.ts";

export const ablations = definePipeline({
  name: "ablations",
  description: "λ sweep, sequential vs parallel with wall-clock, iterations 1–3, hard vs soft oracle, α (best setting picked on validation prompts)",
  params: Schema.Struct({
    ...studyParams("small"),
    lambdas: param(Schema.Array(Schema.Number), [0, 0.1, 0.3, 1, 3], "λ values of the sweep"),
    alphas: param(Schema.Array(Schema.Number), [0.5, 1, 2], "α values (q ∝ p · R^α) of the sweep"),
  }),
  build: (p, params) => {
    const u = upstream(p, params);
    const I = u.S.iterations;
    const chain = (name: string, schedule: "sequential" | "parallel", finetune?: Record<string, unknown>, sample?: Record<string, unknown>) =>
      iterate(p, u, { name, schedule, adaptive: true, iterations: I, finetune, sample });
    // A setting's final model on both halves of the prompts' split: the sweep picks on validation, reports test.
    const evalBoth = (name: string, model: Parameters<typeof evaluate>[3]) =>
      ({ ...evaluate(p, u, name, model, false), ToxVal: evaluateToxicitySplit(p, u, name, model, "validation") });
    const table = (name: string, column: string, entries: [string, ReturnType<typeof evalBoth>][]) =>
      p.add(ablationTableStage(entries.map(([l]) => l)), {
        id: `${name}-table`, params: { table: name, column }, inputs: Object.fromEntries(entries.flatMap(([l, e]) => [[`${l}Tox`, e.Tox!], [`${l}ToxVal`, e.ToxVal], [`${l}Ppl`, e.Ppl!]])) as never,
      });
    // Sequential vs parallel (adaptive, default λ): quality and the critical-path wall-clock.
    const seq = chain("ours-ad-seq", "sequential"), par = chain("ours-ad-par", "parallel");
    const seqEv = evaluate(p, u, "ours-ad-seq", seq.thetas[I], false), parEv = evaluate(p, u, "oursAdaptive", par.thetas[I], false);
    const jobs = { ...seq.jobs, ...par.jobs };
    p.add(schedulesStage(Object.keys(jobs)), { id: "schedules-table", inputs: { ...jobs, sequentialTox: seqEv.Tox!, sequentialPpl: seqEv.Ppl!, parallelTox: parEv.Tox!, parallelPpl: parEv.Ppl! } as never });
    const main = params.schedule === "sequential" ? seq : par;
    // Iterations 1..I: the intermediate models of the main chain.
    table("iterations", "iterations", main.thetas.slice(1).map((th, i) => [String(i + 1), evalBoth(`${params.schedule}-i${i + 1}`, th)]));
    // λ and α sweeps on the main schedule.
    table("lambda_sweep", "lambda", params.lambdas.map((l) => [String(l), evalBoth(`lambda-${l}`, chain(`lambda-${l}`, params.schedule, { lambda: l }).thetas[I])]));
    // The oracle's constraint on the NADO samples: hard 1[tox < τ] (the default) against soft 1 − tox.
    table("oracle_mode", "constraint", [["hard", evalBoth(`${params.schedule}-i${I}`, main.thetas[I])],
      ["soft", evalBoth("soft-oracle", chain("soft-oracle", params.schedule, undefined, { mode: "soft" }).thetas[I])]]);
    table("alpha_sweep", "alpha", params.alphas.map((a) => [String(a), evalBoth(`alpha-${a}`, chain(`alpha-${a}`, params.schedule, { alpha: a }).thetas[I])]));
  },
});
