// Stage `toxicityByGroup`: Table 1's toxicity column broken down by the target group of the prompts
// (SafeNLP `target_groups`) — one row per method × group with n (prompts targeting the group; a prompt
// with several groups counts in each), % toxic and mean toxicity (ml/eval/toxicity.ts toxicityByGroup).
// Table `toxicity_by_group`; `acft tables` draws it as grouped bars (engine/Plot.ts groupPlot).
import { Schema } from "effect";
import { defineStage, Output, type Row } from "../engine/Stage.ts";
import { toxicityByGroup as byGroup } from "../ml/eval/toxicity.ts";
import { StageInputError, syncStage } from "./common.ts";
import { ToxicityOutput } from "./evalToxicity.ts";
import { METHODS, type Method } from "./table1.ts";

export const ToxicityByGroupRow = Schema.Struct({
  method: Schema.String, group: Schema.String, n: Schema.Int, toxicity_pct: Schema.Number, toxicity_mean: Schema.Number,
});

export const toxicityByGroup = defineStage({
  name: "toxicityByGroup",
  version: 1,
  description: "toxicity per target group of the prompts, per method",
  module: import.meta.url,
  process: "inline",
  params: Schema.Struct({}),
  inputs: Object.fromEntries(METHODS.map(([m]) => [m, Output.value(ToxicityOutput)])) as { [M in Method]: ReturnType<typeof Output.value<ToxicityOutput, typeof ToxicityOutput.Encoded>> },
  output: Output.value(Schema.Array(ToxicityByGroupRow)),
  run: ({ inputs: ins, ctx }) =>
    syncStage(() => {
      const outs = METHODS.map(([m, label]) => ({ m, label, out: ins[m] as ToxicityOutput }));
      const first = outs[0];
      for (const o of outs)
        if (o.out.split !== first.out.split || o.out.prompts.length !== first.out.prompts.length || o.out.prompts.some((p, i) => p !== first.out.prompts[i]))
          throw new StageInputError({ stage: ctx.instanceId, message: `the toxicity evaluation of ${o.m} used other prompts than ${first.m} (split ${o.out.split} vs ${first.out.split}); give every evalToxicity instance the same seed, prompts and split` });
      const rows = outs.flatMap(({ label, out }) =>
        byGroup(out.toxicity, out.groups, out.threshold).map((g) => ({ method: label, ...g })));
      ctx.table("toxicity_by_group", rows as Row[]);
      return rows;
    }),
});
