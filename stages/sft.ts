// Stage `sft`: plain fine-tuning (λ = 0) of a model on a mix directory (docs/method.md §5 "SFT"). The same
// stage gives the Filtration row (on the filtered mix) and the Jigsaw fine-tunes (on a Jigsaw mix).
// Examples with a `prompt` are trained on their continuation only (the Jigsaw classifier variant).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { checkpointing, mlStage, trainProgress } from "./common.ts";
import { disposeAdapter, loraFields, loraSettings, saveAdapter } from "./lora.ts";
import { loadModel, readMix, saveModel, trainingFields, trainLM } from "./models.ts";

export const sft = defineStage({
  name: "sft",
  version: 1,
  description: "plain fine-tuning on a mix (no regulariser)",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of the batch order"),
    ...trainingFields({ steps: 150, lr: 5e-4 }),
    ...loraFields,
  }),
  inputs: { model: Output.directory(), mix: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const model = await loadModel(inputs.model);
      try {
        const adapter = await trainLM(model, readMix(inputs.mix), params, params.seed, trainProgress(ctx), undefined, checkpointing(ctx), loraSettings(params, model.config));
        try {
          await saveModel(model, ctx.outDir);
          await saveAdapter(ctx.outDir, adapter, model.config);
        } finally {
          disposeAdapter(adapter);
        }
      } finally {
        model.dispose();
      }
    }),
});
