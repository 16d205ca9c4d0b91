// Stage `pretrain`: the base LM θ_0 — a transformer (ml/lm.ts) trained from scratch on "web" text:
// general paragraphs plus forum comments (benign and toxic, as web text is), so the base model can be
// toxic before any fine-tuning. Comments come in threads (a seeded shuffle cut into groups, one comment
// per line), so the base model has seen text follow the end of a comment, as the toxicity evaluation's
// statement prompts ask. Output: a model directory (checkpoint + tokenizer).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output, type StageContext } from "../engine/Stage.ts";
import { checkpointing, mlStage, trainProgress } from "./common.ts";
import { Rng } from "../data/synthetic/rng.ts";
import { commentTexts, generalParagraphs, STATEMENT_SEP } from "./corpora.ts";
import { archFields, createModel, saveModel, trainingFields, trainLM, type Example } from "./models.ts";

/** Pretraining text: general paragraphs (+ the labelled comments in threads of `threadSize`, unless `clean`). */
export const pretrainExamples = (dataDir: string, clean: boolean, threadSize: number, seed: number): Example[] => {
  const comments = clean ? [] : commentTexts(dataDir).map((t) => t.text);
  const shuffled = new Rng(`acft-pretrain-threads/${seed}`).shuffle(comments);
  const threads = Array.from({ length: Math.ceil(shuffled.length / threadSize) }, (_, i) => shuffled.slice(i * threadSize, (i + 1) * threadSize).join(STATEMENT_SEP));
  return [
    ...generalParagraphs(dataDir, "train").map((text) => ({ text, domain: "general" as const })),
    ...threads.map((text) => ({ text, domain: "toxic" as const })),
  ];
};

export const pretrainParams = Schema.Struct({
  seed: param(Schema.Int, 1, "seed of the initialisation and of the batch order"),
  threadSize: param(Schema.Int.pipe(Schema.positive()), 4, "forum comments per pretraining example (a thread, one comment per line)"),
  ...archFields,
  ...trainingFields({ steps: 300, lr: 1e-3 }),
});

/** Train a fresh LM on the pretraining text into ctx.outDir (`clean`: general text only — the judge). */
export const pretrainRun = (clean: boolean) =>
  ({ params, inputs, ctx }: { params: typeof pretrainParams.Type; inputs: { tokenizer: string; data: string }; ctx: StageContext }) =>
    mlStage(ctx, async () => {
      const model = createModel(inputs.tokenizer, params, params.seed);
      try {
        await trainLM(model, pretrainExamples(inputs.data, clean, params.threadSize, params.seed), params, params.seed, trainProgress(ctx), undefined, checkpointing(ctx));
        await saveModel(model, ctx.outDir);
      } finally {
        model.dispose();
      }
    });

export const pretrain = defineStage({
  name: "pretrain",
  version: 2,
  description: "base LM pretraining on general text + forum comments",
  module: import.meta.url,
  params: pretrainParams,
  inputs: { tokenizer: Output.directory(), data: Output.directory() },
  output: Output.directory(),
  run: pretrainRun(false),
});
