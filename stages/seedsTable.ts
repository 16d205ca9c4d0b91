// Stage factory `seedsTable`: Table 1 over several seeds — per method and metric the mean and the sample
// standard deviation over seeds, as numeric columns `<metric>_mean` / `<metric>_std` plus a readable
// `<metric>` text column "mean ± std".
import { Schema } from "effect";
import { defineStage, Output, type Row } from "../engine/Stage.ts";
import { mean, std } from "../ml/metrics.ts";
import { syncStage } from "./common.ts";
import { Table1Row } from "./table1.ts";

const METRIC_COLUMNS = ["toxicity_pct", "toxicity_mean", "mmlu", "commonsense", "perplexity"] as const;

export const seedsTableStage = (seeds: readonly number[]) =>
  defineStage({
    name: "seedsTable",
    version: 1,
    description: "Table 1 as mean ± std over seeds",
    module: import.meta.url,
    process: "inline",
    params: Schema.Struct({}),
    inputs: Object.fromEntries(seeds.map((s) => [`seed${s}`, Output.value(Schema.Array(Table1Row))])),
    output: Output.value(Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number) }))),
    run: ({ inputs, ctx }) =>
      syncStage(() => {
        const tables = Object.values(inputs as Record<string, readonly Table1Row[]>);
        const rows = tables[0].map((r0, i) => {
          const row: Record<string, string | number> = { method: r0.method, seeds: tables.length };
          for (const c of METRIC_COLUMNS) {
            const xs = tables.map((t) => t[i][c]);
            const m = mean(xs), s = xs.length > 1 ? std(xs) : 0;
            Object.assign(row, { [c]: `${m.toFixed(3)} ± ${s.toFixed(3)}`, [`${c}_mean`]: m, [`${c}_std`]: s });
          }
          return row;
        });
        ctx.table("table1_seeds", rows as Row[]);
        return rows;
      }),
  });
