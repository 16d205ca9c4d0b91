// Stage `pretrain`: the base LM θ_0 — a transformer (ml/lm.ts) trained from scratch on "web" text:
// general paragraphs plus forum comments (benign and toxic, as web text is), so the base model can be
// toxic before any fine-tuning. Output: a model directory (checkpoint + tokenizer).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output, type StageContext } from "../engine/Stage.ts";
import { mlStage, trainProgress } from "./common.ts";
import { generalParagraphs, oracleTexts } from "./corpora.ts";
import { archFields, createModel, saveModel, trainingFields, trainLM, type Example } from "./models.ts";

/** Pretraining text: general paragraphs (+ the labelled comments unless `clean`). */
export const pretrainExamples = (dataDir: string, clean: boolean): Example[] => [
  ...generalParagraphs(dataDir, "train").map((text) => ({ text, domain: "general" as const })),
  ...(clean ? [] : oracleTexts(dataDir).map((t) => ({ text: t.text, domain: "toxic" as const }))),
];

export const pretrainParams = Schema.Struct({
  seed: param(Schema.Int, 1, "seed of the initialisation and of the batch order"),
  ...archFields,
  ...trainingFields({ steps: 300, lr: 1e-3 }),
});

/** Train a fresh LM on the pretraining text into ctx.outDir (`clean`: general text only — the judge). */
export const pretrainRun = (clean: boolean) =>
  ({ params, inputs, ctx }: { params: typeof pretrainParams.Type; inputs: { tokenizer: string; data: string }; ctx: StageContext }) =>
    mlStage(ctx, async () => {
      const model = createModel(inputs.tokenizer, params, params.seed);
      try {
        await trainLM(model, pretrainExamples(inputs.data, clean), params, params.seed, trainProgress(ctx));
        await saveModel(model, ctx.outDir);
      } finally {
        model.dispose();
      }
    });

export const pretrain = defineStage({
  name: "pretrain",
  version: 1,
  description: "base LM pretraining on general text + forum comments",
  module: import.meta.url,
  params: pretrainParams,
  inputs: { tokenizer: Output.directory(), data: Output.directory() },
  output: Output.directory(),
  run: pretrainRun(false),
});
