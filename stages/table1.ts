// Stage `table1`: the paper's Table 1 (METHOD.md §5–§7) from the evaluation outputs of every method —
// one row per method with toxicity_pct ↓, toxicity_mean ↓, mmlu ↑, commonsense ↑, perplexity ↓, and the
// paper's Llama-7B / Falcon-7B numbers beside them. Also writes the `metric_directions` table (which way is better, per column).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output, type Row } from "../engine/Stage.ts";
import { METRICS } from "../ml/metrics.ts";
import { syncStage } from "./common.ts";
import { CommonsenseOutput } from "./evalCommonsense.ts";
import { MmluOutput } from "./evalMmlu.ts";
import { PerplexityOutput } from "./evalPerplexity.ts";
import { ToxicityOutput } from "./evalToxicity.ts";
import { PAPER_TABLE1 } from "./paperNumbers.ts";

/** The rows of Table 1, in the paper's order: [key, label]. */
export const METHODS = [
  ["base", "Base"], ["sft", "SFT"], ["filtration", "Filtration"], ["rl", "RL"],
  ["nado", "NADO decoding"], ["ours", "Ours w/o adaptive"], ["oursAdaptive", "Ours w/ adaptive"],
] as const;
export type Method = (typeof METHODS)[number][0];

const EVALS = { Tox: Output.value(ToxicityOutput), Mmlu: Output.value(MmluOutput), Cs: Output.value(CommonsenseOutput), Ppl: Output.value(PerplexityOutput) };
type EvalInputs = { [M in Method as `${M}${keyof typeof EVALS}`]: (typeof EVALS)[keyof typeof EVALS] };
const inputs = Object.fromEntries(METHODS.flatMap(([m]) => Object.entries(EVALS).map(([k, v]) => [`${m}${k}`, v]))) as unknown as EvalInputs;

export const Table1Row = Schema.Struct({
  method: Schema.String, toxicity_pct: Schema.Number, toxicity_mean: Schema.Number,
  mmlu: Schema.Number, commonsense: Schema.Number, perplexity: Schema.Number,
});
export type Table1Row = typeof Table1Row.Type;

/** Columns with their metric directions, for the `metric_directions` table. */
const COLUMNS = ["toxicity_pct", "toxicity_mean", "mmlu", "commonsense", "perplexity"] as const;

export const table1 = defineStage({
  name: "table1",
  version: 1,
  description: "Table 1: toxicity, MMLU, commonsense and perplexity per method (+ the paper's numbers)",
  module: import.meta.url,
  process: "inline",
  params: Schema.Struct({ name: param(Schema.String, "table1", "name of the result table") }),
  inputs,
  output: Output.value(Schema.Array(Table1Row)),
  run: ({ params, inputs: ins, ctx }) =>
    syncStage(() => {
      const v = ins as unknown as Record<string, any>;
      const rows: Table1Row[] = METHODS.map(([m, label]) => ({
        method: label,
        toxicity_pct: v[`${m}Tox`].toxicity_pct, toxicity_mean: v[`${m}Tox`].toxicity_mean,
        mmlu: v[`${m}Mmlu`].mmlu, commonsense: v[`${m}Cs`].commonsense, perplexity: v[`${m}Ppl`].perplexity,
      }));
      ctx.table(params.name, rows.map((r, i): Row => {
        const paper = PAPER_TABLE1[METHODS[i][0]];
        return {
          ...r,
          paper_llama_toxicity_pct: paper?.llama[0] ?? null, paper_llama_mmlu: paper?.llama[1] ?? null, paper_llama_commonsense: paper?.llama[2] ?? null,
          paper_falcon_toxicity_pct: paper?.falcon[0] ?? null, paper_falcon_mmlu: paper?.falcon[1] ?? null, paper_falcon_commonsense: paper?.falcon[2] ?? null,
        };
      }));
      ctx.table("metric_directions", COLUMNS.map((c) => ({ metric: c, direction: METRICS[c].direction, description: METRICS[c].description })));
      return rows;
    }),
});
