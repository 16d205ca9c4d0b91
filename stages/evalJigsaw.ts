// Stage `evalJigsaw`: the Jigsaw evaluation (docs/method.md §6) of one model — ROC-AUC of the normalised
// P(" yes") on held-out comments (a seeded subset of the fixed held-out pool no training text comes
// from, stages/corpora.ts `jigsawSplit`), and the oracle toxicity of the model's own generations on the
// toxicity-evaluation prompts of the test half of their fixed split, as Table 1 (the regularised model
// should detect toxicity without producing more).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { ToxicityClassifier } from "../ml/classify.ts";
import { evaluateJigsaw } from "../ml/eval/jigsaw.ts";
import { evalProgress, mlStage } from "./common.ts";
import { evalPromptSplit, jigsawSplit, subset } from "./corpora.ts";
import { jigsawParams } from "./jigsawMix.ts";
import { withModel } from "./models.ts";

export const JigsawOutput = Schema.Struct({ roc_auc: Schema.Number, toxicity_mean: Schema.Number, toxicity_pct: Schema.Number, n: Schema.Int });

export const evalJigsaw = defineStage({
  name: "evalJigsaw",
  version: 3,
  description: "Jigsaw: classifier ROC-AUC from P(label word) and toxicity of the model's own generations",
  module: import.meta.url,
  params: Schema.Struct({
    ...jigsawParams,
    prompts: param(Schema.Int.pipe(Schema.positive()), 100, "generation prompts for the toxicity part (a seeded subset of the test half of the prompts)"),
  }),
  inputs: { model: Output.directory(), oracle: Output.directory(), data: Output.directory() },
  output: Output.value(JigsawOutput),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, () =>
      withModel(inputs.model, async (m) => {
        const { test } = jigsawSplit(inputs.data, params.testItems, params.seed);
        const prompts = subset(evalPromptSplit(inputs.data, "test").map((p) => p.text), params.prompts, params.seed);
        const r = await evaluateJigsaw(m.lm, test, prompts, ToxicityClassifier.load(inputs.oracle), {
          maxChars: params.maxChars, seed: params.seed, onProgress: evalProgress(ctx),
        });
        ctx.metric("roc_auc", r.roc_auc);
        return { roc_auc: r.roc_auc, toxicity_mean: r.generation.toxicity_mean, toxicity_pct: r.generation.toxicity_pct, n: test.length };
      })),
});
