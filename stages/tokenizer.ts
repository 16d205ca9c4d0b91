// Stage `tokenizer`: byte-level BPE (ml/tokenizer.ts) trained on the pretraining and fine-tuning text
// (general paragraphs, forum comments, toxic-domain statements; decontaminated, stages/corpora.ts).
// Output: tokenizer.json.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { mlStage } from "./common.ts";
import { commentTexts, generalParagraphs, subset, toxicDomainTexts } from "./corpora.ts";
import { trainTokenizerInto } from "./models.ts";

export const tokenizer = defineStage({
  name: "tokenizer",
  version: 2,
  description: "byte-level BPE tokenizer",
  module: import.meta.url,
  params: Schema.Struct({
    vocabSize: param(Schema.Int.pipe(Schema.between(260, 65_536)), 1024, "vocabulary size incl. 256 bytes and special tokens"),
    maxChars: param(Schema.Int.pipe(Schema.positive()), 400_000, "characters of text the merges are learned from (seeded subset)"),
    seed: param(Schema.Int, 1, "seed of the text subset"),
  }),
  inputs: { data: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const texts = [
        ...generalParagraphs(inputs.data, "train"),
        ...toxicDomainTexts(inputs.data),
        ...commentTexts(inputs.data).map((t) => t.text),
      ];
      const avg = texts.reduce((s, t) => s + t.length, 0) / Math.max(1, texts.length);
      const picked = subset(texts, Math.ceil(params.maxChars / Math.max(1, avg)), params.seed);
      trainTokenizerInto(ctx.outDir, picked, params.vocabSize, (done, total) => ctx.progress(done, total, "merges"));
    }),
});
