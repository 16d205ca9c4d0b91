// Stage `evalPerplexity`: held-out perplexity on the WikiText test split ("utility at
// small scale"), token-level with strided windows of the model's context (ml/eval/perplexity.ts), and
// bits per UTF-8 byte of the same text, which compares models with different tokenizers (the win-rate
// judge against the judged models).
// For the NADO-guided model it is the perplexity under q (the distribution it samples from).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { evaluatePerplexity } from "../ml/eval/perplexity.ts";
import { evalProgress, mlStage } from "./common.ts";
import { generalParagraphs } from "./corpora.ts";
import { withModel } from "./models.ts";

export const PerplexityOutput = Schema.Struct({ perplexity: Schema.Number, nll: Schema.Number, tokens: Schema.Int, bytes: Schema.Int, bitsPerByte: Schema.Number });
export type PerplexityOutput = typeof PerplexityOutput.Type;

export const evalPerplexity = defineStage({
  name: "evalPerplexity",
  version: 2,
  description: "held-out WikiText perplexity (strided windows)",
  module: import.meta.url,
  params: Schema.Struct({
    maxChars: param(Schema.Int.pipe(Schema.positive()), 60_000, "characters of the test split scored (from its start)"),
  }),
  inputs: { model: Output.directory(), data: Output.directory() },
  output: Output.value(PerplexityOutput),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, () =>
      withModel(inputs.model, async (m) => {
        let chars = 0;
        const docs = generalParagraphs(inputs.data, "test").filter((d) => (chars += d.length) <= params.maxChars);
        const r = await evaluatePerplexity(m.scorer, docs, { onProgress: evalProgress(ctx) });
        ctx.metric("perplexity", r.perplexity);
        return { perplexity: r.perplexity, nll: r.nll, tokens: r.tokens, bytes: r.bytes, bitsPerByte: r.bitsPerByte };
      })),
});
