// Stage `oracle`: the toxicity classifier C of docs/method.md §1 (ml/classify.ts), trained on labelled
// toxicity data (ToxiGen annotated + the Jigsaw training pool when present; the synthetic world's labels
// by default), decontaminated: no text that shares a 13-gram with an evaluation item (stages/corpora.ts).
// It labels NADO samples, filters the mix, rewards RL and scores the toxicity evaluation.
// Output directory: the classifier (ml/classify.ts format) + info.json with its held-out ROC-AUC.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { trainToxicityClassifier } from "../ml/classify.ts";
import { mlStage, StageInputError, trainProgress, writeJson } from "./common.ts";
import { oracleTexts, subset } from "./corpora.ts";

export const oracle = defineStage({
  name: "oracle",
  version: 2,
  description: "toxicity classifier (hashed n-gram logistic regression), with its held-out ROC-AUC",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of the held-out split and the training order"),
    maxExamples: param(Schema.Int.pipe(Schema.positive()), 20_000, "cap on labelled training texts (seeded subset)"),
    epochs: param(Schema.Int.pipe(Schema.positive()), 4, "passes over the training texts"),
    heldOutFraction: param(Schema.Number.pipe(Schema.between(0.05, 0.5)), 0.2, "fraction held out for the ROC-AUC"),
  }),
  inputs: { data: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const texts = subset(oracleTexts(inputs.data), params.maxExamples, params.seed);
      if (texts.length < 20 || !texts.some((t) => t.label === 1) || !texts.some((t) => t.label === 0))
        throw new StageInputError({ stage: "oracle", message: `the data dir ${inputs.data} has ${texts.length} labelled texts (need ≥ 20, both classes): add toxigen/annotated or jigsaw_toxic (see docs/data.md)` });
      const clf = await trainToxicityClassifier(texts, {
        epochs: params.epochs, heldOutFraction: params.heldOutFraction, seed: params.seed, onProgress: trainProgress(ctx),
      });
      clf.save(ctx.outDir);
      ctx.metric("held_out_auc", clf.info.heldOutAuc);
      writeJson(ctx.outDir, "info.json", { heldOutAuc: clf.info.heldOutAuc, trainSize: clf.info.trainSize, heldOutSize: clf.info.heldOutSize });
      ctx.log(`oracle held-out ROC-AUC ${clf.info.heldOutAuc.toFixed(4)} on ${clf.info.heldOutSize} texts`);
    }),
});
