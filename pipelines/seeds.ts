// `seeds`: the paper's Table 1 over several seeds (every model re-initialised and re-trained; the data
// and the oracle are shared), reported as mean ± std and a 95 % Student-t interval for the mean over
// seeds in table `table1_seeds`.
import { Schema } from "effect";
import { definePipeline } from "../engine/Pipeline.ts";
import { param } from "../engine/Params.ts";
import { seedsTableStage } from "../stages/seedsTable.ts";
import { studyParams } from "./params.ts";
import { methods, paperTables, upstream } from "./study.ts";

export const seeds = definePipeline({
  name: "seeds",
  description: "Table 1 over several seeds (mean ± std, 95 % t interval)",
  params: Schema.Struct({
    ...studyParams("small"),
    seeds: param(Schema.NonEmptyArray(Schema.Int), [1, 2, 3, 4, 5], "the seeds (≥ 2 for an interval; 5 by default: t_{0.975,4} = 2.78 against 4.30 with 3)"),
  }),
  build: (p, params) => {
    const tables: Record<string, unknown> = {};
    for (const seed of params.seeds) {
      // Seed 1's ids are the paper pipeline's, so its results come from the cache after `acft run paper`.
      const u = upstream(p, { ...params, seed, prefix: seed === params.seeds[0] && seed === 1 ? "" : `seed${seed}/` });
      const { models } = methods(p, u, params.schedule);
      tables[`seed${seed}`] = paperTables(p, u, models, { winrates: false }).table;
    }
    p.add(seedsTableStage(params.seeds), { id: "table1-seeds", inputs: tables as never });
  },
});
