// Stage factory `ablationTable`: one row per setting of an ablation (a λ, an α, an iteration count…)
// with the final model's toxicity_pct ↓, toxicity_mean ↓ and perplexity ↓. Inputs `<label>Tox` and
// `<label>Ppl` for each label; the table is named by the `table` argument.
import { Schema } from "effect";
import { defineStage, Output, type OutputSpec, type Row } from "../engine/Stage.ts";
import { syncStage } from "./common.ts";
import { PerplexityOutput } from "./evalPerplexity.ts";
import { ToxicityOutput } from "./evalToxicity.ts";

export const ablationTableStage = (table: string, column: string, labels: readonly string[]) => {
  const inputs: Record<string, OutputSpec> = {};
  for (const l of labels) (inputs[`${l}Tox`] = Output.value(ToxicityOutput)), (inputs[`${l}Ppl`] = Output.value(PerplexityOutput));
  return defineStage({
    name: "ablationTable",
    version: 1,
    description: "one row per ablation setting: toxicity and perplexity of the final model",
    module: import.meta.url,
    process: "inline",
    params: Schema.Struct({}),
    inputs,
    output: Output.value(Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number) }))),
    run: ({ inputs: ins, ctx }) =>
      syncStage(() => {
        const v = ins as Record<string, any>;
        const rows = labels.map((l) => ({ [column]: l, toxicity_pct: v[`${l}Tox`].toxicity_pct, toxicity_mean: v[`${l}Tox`].toxicity_mean, perplexity: v[`${l}Ppl`].perplexity }));
        ctx.table(table, rows as Row[]);
        return rows;
      }),
  });
};
