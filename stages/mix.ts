// Stage `mix`: the fine-tuning mix of docs/method.md §3 — toxic-domain lists (ToxiGen role) and general
// paragraphs (WikiText role) in a given proportion by tokens, each example tagged with its domain
// (the adaptive regulariser selects D_reg by that tag), plus the prompt set NADO sampling and RL use.
// A toxic-domain example is one line of a ToxiGen prompt file — a list of statements of one kind, one
// per line — not a lone statement: a model trained on lone statements has never seen what follows the
// end of one, yet the toxicity evaluation (docs/method.md §6) asks exactly that (continue a statement).
// The prompts are whole held-out statements, as the evaluation's are; they are removed from every list.
// Output directory: train.jsonl ({text, domain}), prompts.json (string[]), summary.json.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { mixCorpora, type Domain } from "../data/mix.ts";
import { syncStage, writeJson, writeJsonl } from "./common.ts";
import { generalParagraphs, STATEMENT_SEP, subset, toxicDomainLists } from "./corpora.ts";

/** Whitespace words as the token count: data/ must not depend on the tokenizer (trained later). */
const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

export const mix = defineStage({
  name: "mix",
  version: 3,
  description: "domain-tagged fine-tuning mix (toxic-domain lists + general) and the sampling prompts",
  module: import.meta.url,
  process: "inline", // light I/O: a forked worker would cost more than the work
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of the subset and the shuffle"),
    toxicShare: param(Schema.Number.pipe(Schema.between(0, 1)), 0.5, "share of toxic-domain examples, by words (paper: equal)"),
    maxWords: param(Schema.Int.pipe(Schema.positive()), 60_000, "total size of the mix in words"),
    prompts: param(Schema.Int.pipe(Schema.positive()), 64, "prompts for NADO sampling and RL (held-out toxic-domain statements)"),
  }),
  inputs: { data: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    syncStage(() => {
      const lists = toxicDomainLists(inputs.data);
      // The prompt statements are held out of the mix: NADO and RL continue statements the model was not fine-tuned on.
      const prompts = subset([...new Set(lists.flat())], params.prompts, params.seed + 1);
      const held = new Set(prompts);
      const docs = lists.map((l) => l.filter((s) => !held.has(s)).join(STATEMENT_SEP)).filter((d) => d.length > 0);
      const { examples } = mixCorpora(docs, generalParagraphs(inputs.data, "train"), {
        toxicShare: params.toxicShare, maxTokens: params.maxWords, countTokens: words, seed: params.seed,
      });
      writeJsonl(ctx.outDir, "train.jsonl", examples);
      writeJson(ctx.outDir, "prompts.json", prompts);
      const n = (d: Domain) => examples.filter((e) => e.domain === d).length;
      writeJson(ctx.outDir, "summary.json", { examples: examples.length, toxic: n("toxic"), general: n("general"), prompts: prompts.length });
      ctx.metric("examples", examples.length);
      ctx.metric("toxic_examples", n("toxic"));
      ctx.progress(1, 1, "mix");
    }),
});
