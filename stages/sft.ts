// Stage `sft`: plain fine-tuning (λ = 0) of a model on a mix directory (METHOD.md §5 "SFT"). The same
// stage gives the Filtration row (on the filtered mix) and the Jigsaw fine-tunes (on a Jigsaw mix).
// Examples with a `prompt` are trained on their continuation only (the Jigsaw classifier variant).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { checkpointing, mlStage, trainProgress } from "./common.ts";
import { loadModel, readMix, saveModel, trainingFields, trainLM } from "./models.ts";

export const sft = defineStage({
  name: "sft",
  version: 1,
  description: "plain fine-tuning on a mix (no regulariser)",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of the batch order"),
    ...trainingFields({ steps: 150, lr: 5e-4 }),
  }),
  inputs: { model: Output.directory(), mix: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const model = await loadModel(inputs.model);
      try {
        await trainLM(model, readMix(inputs.mix), params, params.seed, trainProgress(ctx), undefined, checkpointing(ctx));
        await saveModel(model, ctx.outDir);
      } finally {
        model.dispose();
      }
    }),
});
