// Stage `importModel`: the base LM θ_0 from a user's pretrained checkpoint (`--model PATH`: a Hugging
// Face model directory or a .gguf file) instead of pretraining one. Its input is the checkpoint as an
// external input, so the cache key covers the checkpoint's content: editing the file reruns everything
// downstream, moving it reruns nothing. Output: a model directory like `pretrain`'s (checkpoint +
// the model's own tokenizer), which every later stage reads unchanged.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { loadPretrained, limitContext } from "../ml/pretrained.ts";
import { disposeParams, lmVariables } from "../ml/lm.ts";
import { mlStage } from "./common.ts";
import { saveModel } from "./models.ts";

export const importModel = defineStage({
  name: "importModel",
  version: 1,
  description: "the base LM from a pretrained checkpoint (Hugging Face directory or .gguf)",
  module: import.meta.url,
  params: Schema.Struct({
    contextLength: param(Schema.Int.pipe(Schema.positive()), 128, "context length the study uses (at most the checkpoint's): training windows, prompts and sampling"),
  }),
  inputs: { checkpoint: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const loaded = await loadPretrained(inputs.checkpoint);
      const { config, params: lm } = limitContext(loaded.config, loaded.params, params.contextLength);
      ctx.log(`${loaded.format} checkpoint, ${loaded.family} family: ${config.nLayers} layers, d_model ${config.dModel}, vocab ${config.vocabSize}, context ${config.contextLength}`);
      try {
        await saveModel({ config, params: lm, tokenizer: loaded.tokenizer, dispose: () => {} }, ctx.outDir);
      } finally {
        disposeParams(lmVariables(lm));
      }
    }),
});
