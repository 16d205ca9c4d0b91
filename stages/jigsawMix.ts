// Stage `jigsawMix`: the Jigsaw fine-tuning set (docs/method.md §6, "Toxicity classification") in the mix
// layout: each training comment written with its label word ("Comment: …\nToxic: yes|no",
// ml/eval/jigsaw.ts). mode "text": the whole text is trained on (the paper's "SFT/Ours on Jigsaw text");
// mode "classifier": only the label word is (the prompt is context) — "SFT as classifier".
// Toxic comments carry domain "toxic" (what the adaptive regulariser would select). The comments come
// from the Jigsaw training pool: never one of the held-out pool, none sharing a 13-gram with an
// evaluation item (stages/corpora.ts).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { JIGSAW_NO, JIGSAW_YES, jigsawPrompt, jigsawTrainingText } from "../ml/eval/jigsaw.ts";
import { syncStage, writeJson, writeJsonl } from "./common.ts";
import { jigsawSplit, subset } from "./corpora.ts";

export const jigsawParams = {
  seed: param(Schema.Int, 1, "seed of the evaluation subset of the held-out pool (and of the training subset)"),
  testItems: param(Schema.Int.pipe(Schema.positive()), 300, "held-out comments for the classifier evaluation (seeded subset of the fixed ~10 % pool)"),
  maxChars: param(Schema.Int.pipe(Schema.positive()), 200, "comment length cap in characters (keeps the label word in context)"),
};

export const jigsawMix = defineStage({
  name: "jigsawMix",
  version: 2,
  description: "Jigsaw comments with label words, as a fine-tuning mix",
  module: import.meta.url,
  process: "inline", // light I/O: a forked worker would cost more than the work
  params: Schema.Struct({
    ...jigsawParams,
    mode: param(Schema.Literal("text", "classifier"), "text", "train on the whole text, or on the label word only"),
    maxExamples: param(Schema.Int.pipe(Schema.positive()), 2000, "training comments (seeded subset)"),
  }),
  inputs: { data: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    syncStage(() => {
      const train = subset(jigsawSplit(inputs.data, params.testItems, params.seed).train, params.maxExamples, params.seed + 1);
      const examples = train.map((it) => {
        const domain = it.label === 1 ? ("toxic" as const) : ("general" as const);
        return params.mode === "text"
          ? { text: jigsawTrainingText(it, params.maxChars), domain }
          : { prompt: jigsawPrompt(it.text, params.maxChars), text: it.label === 1 ? JIGSAW_YES : JIGSAW_NO, domain };
      });
      writeJsonl(ctx.outDir, "train.jsonl", examples);
      writeJson(ctx.outDir, "prompts.json", []);
      writeJson(ctx.outDir, "summary.json", { examples: examples.length, toxic: train.filter((t) => t.label === 1).length });
      ctx.progress(1, 1, "jigsaw");
    }),
});
