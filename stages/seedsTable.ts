// Stage factory `seedsTable`: Table 1 over several seeds — per method and metric the mean, the sample
// standard deviation and the 95 % Student-t interval for the mean over seeds (ml/stats.ts tInterval), as
// numeric columns `<metric>_mean` / `<metric>_std` / `<metric>_lo` / `<metric>_hi` plus a readable
// `<metric>` text column "mean ± std [lo, hi]". With a single seed there is no interval: lo/hi are null.
import { Schema } from "effect";
import { defineStage, Output, type Row } from "../engine/Stage.ts";
import { mean } from "../ml/metrics.ts";
import { tInterval } from "../ml/stats.ts";
import { syncStage } from "./common.ts";
import { Table1Row } from "./table1.ts";

const METRIC_COLUMNS = ["toxicity_pct", "toxicity_mean", "oracle_toxicity_pct", "oracle_toxicity_mean", "mmlu", "mmlu_mcf", "mmlu_cf", "commonsense", "perplexity"] as const;
/** Coverage of the interval across seeds. */
export const SEEDS_LEVEL = 0.95;

/** One metric over seeds: mean, std and the t interval (null bounds for one seed), and its readable text. */
export const acrossSeeds = (xs: readonly number[]): { mean: number; std: number; lo: number | null; hi: number | null; text: string } => {
  if (xs.length < 2) return { mean: mean(xs), std: 0, lo: null, hi: null, text: `${mean(xs).toFixed(3)} ± 0.000 (one seed)` };
  const r = tInterval(xs, SEEDS_LEVEL);
  return { ...r, text: `${r.mean.toFixed(3)} ± ${r.std.toFixed(3)} [${r.lo.toFixed(3)}, ${r.hi.toFixed(3)}]` };
};

export const seedsTableStage = (seeds: readonly number[]) =>
  defineStage({
    name: "seedsTable",
    version: 3,
    description: "Table 1 as mean ± std and 95 % t interval over seeds",
    module: import.meta.url,
    process: "inline",
    params: Schema.Struct({}),
    inputs: Object.fromEntries(seeds.map((s) => [`seed${s}`, Output.value(Schema.Array(Table1Row))])),
    output: Output.value(Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number, Schema.Null) }))),
    run: ({ inputs, ctx }) =>
      syncStage(() => {
        const tables = Object.values(inputs as Record<string, readonly Table1Row[]>);
        const rows = tables[0].map((r0, i) => {
          const row: Record<string, string | number | null> = { method: r0.method, seeds: tables.length };
          for (const c of METRIC_COLUMNS) {
            const s = acrossSeeds(tables.map((t) => t[i][c]));
            Object.assign(row, { [c]: s.text, [`${c}_mean`]: s.mean, [`${c}_std`]: s.std, [`${c}_lo`]: s.lo, [`${c}_hi`]: s.hi });
          }
          return row;
        });
        ctx.table("table1_seeds", rows as Row[]);
        return rows;
      }),
  });

/** What batch-job workers (`--executor slurm`) import: they find a stage by module and name; `run` reads the seeds from its inputs. */
export const seedsTable = seedsTableStage([]);
