// Stage `evalCommonsense`: 0-shot commonsense reasoning (docs/method.md §6) on the tasks present in the data
// dir (PIQA, ARC-Easy, ARC-Challenge, WinoGrande; the synthetic world has PIQA only): acc and acc_norm
// per task, and their means.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { arcTask, evaluateCommonsense, piqaTask, winograndeRequests } from "../ml/eval/commonsense.ts";
import type { LoglikelihoodRequest } from "../ml/eval/types.ts";
import { evalProgress, mlStage } from "./common.ts";
import { commonsenseItems, subset } from "./corpora.ts";
import { withModel } from "./models.ts";

export const CommonsenseOutput = Schema.Struct({
  commonsense: Schema.Number,
  commonsense_norm: Schema.Number,
  tasks: Schema.Record({ key: Schema.String, value: Schema.Struct({ n: Schema.Int, acc: Schema.Number, acc_norm: Schema.Number }) }),
  /** Items left out because a choice does not fit the model's context. */
  skipped: Schema.Int,
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
        // Items with a choice longer than the model's context cannot be scored: they are left out and counted.
        let skipped = 0;
        const cap = <A>(xs: A[] | undefined, reqs: (a: A) => readonly LoglikelihoodRequest[]) => {
          if (!xs) return undefined;
          const ok = xs.filter((x) => reqs(x).every((r) => m.fitsContinuation(r.continuation)));
          skipped += xs.length - ok.length;
          return subset(ok, params.itemsPerTask, params.seed);
        };
        const r = await evaluateCommonsense(m.lm, {
          piqa: cap(all.piqa, (x) => piqaTask([x]).requests(x, 0)),
          arcEasy: cap(all.arcEasy, (x) => arcTask("arc_easy", [x]).requests(x, 0)),
          arcChallenge: cap(all.arcChallenge, (x) => arcTask("arc_challenge", [x]).requests(x, 0)),
          winogrande: cap(all.winogrande, (x) => winograndeRequests(x)),
        }, { onProgress: evalProgress(ctx) });
        ctx.metric("commonsense", r.commonsense);
        ctx.metric("items_too_long", skipped);
        return { ...r, skipped };
      })),
});
