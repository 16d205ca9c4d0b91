// Stage `evalCommonsense`: 0-shot commonsense reasoning (METHOD.md §6) on the tasks present in the data
// dir (PIQA, ARC-Easy, ARC-Challenge, WinoGrande; the synthetic world has PIQA only): acc and acc_norm
// per task, and their means.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { evaluateCommonsense } from "../ml/eval/commonsense.ts";
import { evalProgress, mlStage } from "./common.ts";
import { commonsenseItems, subset } from "./corpora.ts";
import { withModel } from "./models.ts";

export const CommonsenseOutput = Schema.Struct({
  commonsense: Schema.Number,
  commonsense_norm: Schema.Number,
  tasks: Schema.Record({ key: Schema.String, value: Schema.Struct({ n: Schema.Int, acc: Schema.Number, acc_norm: Schema.Number }) }),
});

export const evalCommonsense = defineStage({
  name: "evalCommonsense",
  version: 1,
  description: "0-shot commonsense accuracy (mean over PIQA / ARC-Easy / ARC-Challenge / WinoGrande present)",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of the per-task item subsets"),
    itemsPerTask: param(Schema.Int.pipe(Schema.positive()), 300, "items per task (seeded subset)"),
  }),
  inputs: { model: Output.directory(), data: Output.directory() },
  output: Output.value(CommonsenseOutput),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, () =>
      withModel(inputs.model, async (m) => {
        const all = commonsenseItems(inputs.data);
        const cap = <A>(xs: A[] | undefined) => (xs ? subset(xs, params.itemsPerTask, params.seed) : undefined);
        const r = await evaluateCommonsense(m.lm, {
          piqa: cap(all.piqa), arcEasy: cap(all.arcEasy), arcChallenge: cap(all.arcChallenge), winogrande: cap(all.winogrande),
        }, { onProgress: evalProgress(ctx) });
        ctx.metric("commonsense", r.commonsense);
        return r;
      })),
});
