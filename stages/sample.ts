// Stage `sample`: sample-and-label, job (1) of an iteration (docs/method.md §2, §4): K continuations per
// prompt from the current model at temperature T (ml/nado/train.ts sampleAndLabel), each labelled by
// the oracle's constraint C (hard 1[tox < τ] or soft 1 − tox) on the continuation text — the part the
// toxicity evaluation classifies. Output: samples.json (NadoSample[]: ids, label, log p, log q_T) and
// texts.json (the decoded continuations, for reading).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { ToxicityClassifier } from "../ml/classify.ts";
import { mlStage, readJson, writeJson } from "./common.ts";
import { sampleAndLabel } from "../ml/nado/train.ts";
import { loadModel } from "./models.ts";
import { StageInputError } from "./common.ts";

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
        const tok = model.tokenizer;
        const prompts = readJson<string[]>(inputs.mix, "prompts.json").map((p) => tok.encode(p, { bos: true }));
        if (prompts.length === 0) throw new StageInputError({ stage: "sample", message: `the mix ${inputs.mix} has no prompts (prompts.json is empty)` });
        const samples = await sampleAndLabel({
          base: model.params, cfg: model.config, prompts, K: params.k, temperature: params.temperature, maxNewTokens: params.maxNewTokens,
          eos: tok.eos, padId: tok.pad, seed: params.seed,
          oracle: (items) => clf.constraint(items.map((i) => tok.decode(i.continuation)), params.mode, params.threshold),
          onProgress: (done, total) => ctx.progress(done, total, "samples"),
        });
        const sat = samples.reduce((s, x) => s + x.label, 0) / samples.length;
        ctx.metric("satisfaction", sat);
        writeJson(ctx.outDir, "samples.json", samples);
        writeJson(ctx.outDir, "texts.json", samples.map((x) => ({ text: tok.decode(x.continuation), label: x.label })));
      } finally {
        model.dispose();
      }
    }),
});
