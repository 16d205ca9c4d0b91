// Stage `sample`: sample-and-label, job (1) of an iteration (METHOD.md §2, §4): K continuations per
// prompt from the current model at temperature T, each full sequence labelled by the oracle's
// constraint C(x) (hard 1[tox < τ] or soft 1 − tox). Output: samples.json (prompt/continuation ids and
// texts with their labels) — the training set of the NADO model.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { ToxicityClassifier } from "../ml/classify.ts";
import { mlStage, readJson, writeJson } from "./common.ts";
import { loadModel, sampleAndLabelModel } from "./models.ts";

export const sample = defineStage({
  name: "sample",
  version: 1,
  description: "sample K continuations per prompt from the model and label them with the oracle",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "sampling seed"),
    k: param(Schema.Int.pipe(Schema.positive()), 8, "continuations per prompt"),
    temperature: param(Schema.Number.pipe(Schema.positive()), 1, "sampling temperature (≠ 1 makes NADO use importance weights)"),
    maxNewTokens: param(Schema.Int.pipe(Schema.positive()), 24, "tokens per continuation"),
    mode: param(Schema.Literal("hard", "soft"), "hard", "C(x): hard 1[tox < τ] or soft 1 − tox"),
    threshold: param(Schema.Number.pipe(Schema.between(0, 1)), 0.5, "τ of the hard constraint"),
  }),
  inputs: { model: Output.directory(), oracle: Output.directory(), mix: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const model = await loadModel(inputs.model);
      try {
        const clf = ToxicityClassifier.load(inputs.oracle);
        const samples = await sampleAndLabelModel(model, readJson<string[]>(inputs.mix, "prompts.json"), {
          k: params.k, temperature: params.temperature, maxNewTokens: params.maxNewTokens, seed: params.seed,
          label: (texts) => clf.constraint(texts, params.mode, params.threshold),
          onProgress: (done, total) => ctx.progress(done, total, "prompts"),
        });
        const sat = samples.labels.reduce((s, c) => s + c, 0) / Math.max(1, samples.labels.length);
        ctx.metric("satisfaction", sat);
        writeJson(ctx.outDir, "samples.json", samples);
      } finally {
        model.dispose();
      }
    }, { timing: true }),
});
