// Stage factory `ablationTable`: one row per setting of an ablation (a λ, an α, an iteration count…)
// with the final model's toxicity on BOTH halves of the prompts' fixed validation/test split
// (toxicity_pct ↓ and toxicity_mean ↓, `_validation` and `_test`) and its perplexity ↓. The best setting
// is picked on validation only (bestOnValidation) and marked in the `selected` column; the test columns
// are what one reports for it. Inputs `<label>Tox` (test), `<label>ToxVal` (validation) and `<label>Ppl`
// for each label; the table is named by the `table` param, the label column by `column`.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output, type OutputSpec, type Row } from "../engine/Stage.ts";
import { StageInputError, syncStage } from "./common.ts";
import { PerplexityOutput } from "./evalPerplexity.ts";
import { ToxicityOutput } from "./evalToxicity.ts";

/** What the `selected` column holds on the setting picked on validation (empty on the others). */
export const SELECTED = "best on validation";

/**
 * Index of the best setting judged on the validation half only: the lowest validation toxicity_pct,
 * ties broken by the lower validation toxicity_mean, then by the earlier setting. Test numbers never enter.
 */
export const bestOnValidation = (rows: ReadonlyArray<{ readonly toxicity_pct_validation: number; readonly toxicity_mean_validation: number }>): number => {
  let best = 0;
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i], b = rows[best];
    if (a.toxicity_pct_validation < b.toxicity_pct_validation ||
      (a.toxicity_pct_validation === b.toxicity_pct_validation && a.toxicity_mean_validation < b.toxicity_mean_validation)) best = i;
  }
  return best;
};

/** The labels of an ablation table's inputs (`<label>Tox`), in input order. */
const labelsOf = (inputNames: readonly string[]): string[] => inputNames.filter((k) => k.endsWith("Tox")).map((k) => k.slice(0, -"Tox".length));

/**
 * An ablation table over the given setting labels. The table's name and its label column are params,
 * and `run` reads the labels from its inputs, so the exported `ablationTable` below (what a batch-job
 * worker imports by module and name) runs any instance the factory built.
 */
export const ablationTableStage = (labels: readonly string[]) => {
  const inputs: Record<string, OutputSpec> = {};
  for (const l of labels)
    (inputs[`${l}Tox`] = Output.value(ToxicityOutput)), (inputs[`${l}ToxVal`] = Output.value(ToxicityOutput)), (inputs[`${l}Ppl`] = Output.value(PerplexityOutput));
  return defineStage({
    name: "ablationTable",
    version: 3,
    description: "one row per ablation setting: validation and test toxicity and perplexity of the final model; best setting picked on validation",
    module: import.meta.url,
    process: "inline",
    params: Schema.Struct({
      table: param(Schema.String, "ablation", "name of the result table"),
      column: param(Schema.String, "setting", "name of the column holding each row's setting"),
    }),
    inputs,
    output: Output.value(Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number) }))),
    run: ({ params, inputs: ins, ctx }) =>
      syncStage(() => {
        const v = ins as Record<string, any>;
        const ls = labelsOf(Object.keys(v));
        for (const l of ls)
          for (const [k, split] of [[`${l}Tox`, "test"], [`${l}ToxVal`, "validation"]] as const)
            if (v[k].split !== split)
              throw new StageInputError({ stage: ctx.instanceId, message: `input ${k} is an evaluation on the ${v[k].split} split; it must be on ${split} (evalToxicity param split)` });
        const rows: Record<string, string | number>[] = ls.map((l) => ({
          [params.column]: l,
          toxicity_pct_validation: v[`${l}ToxVal`].toxicity_pct, toxicity_pct_test: v[`${l}Tox`].toxicity_pct,
          toxicity_mean_validation: v[`${l}ToxVal`].toxicity_mean, toxicity_mean_test: v[`${l}Tox`].toxicity_mean,
          perplexity: v[`${l}Ppl`].perplexity, selected: "",
        }));
        if (rows.length > 0) rows[bestOnValidation(rows as never)].selected = SELECTED;
        ctx.table(params.table, rows as Row[]);
        return rows;
      }),
  });
};

/** What batch-job workers (`--executor slurm`) import: they find a stage by module and name. */
export const ablationTable = ablationTableStage([]);
