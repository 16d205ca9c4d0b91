// Stage `pretrain`: the base LM θ_0 — a transformer (ml/lm.ts) trained from scratch on "web" text:
// general paragraphs plus forum comments (benign and toxic, as web text is), so the base model can be
// toxic before any fine-tuning. Comments come in threads (a seeded shuffle cut into groups, one comment
// per line), so the base model has seen text follow the end of a comment, as the toxicity evaluation's
// statement prompts ask. General paragraphs are packed into documents longer than the context, so every
// position is trained (the 5-shot MMLU prompts fill it), and MMLU's val split comes as answered
// practice pages (docs/method.md §6). Output: a model directory (checkpoint + tokenizer).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output, type StageContext } from "../engine/Stage.ts";
import { checkpointing, mlStage, trainProgress } from "./common.ts";
import { Rng } from "../data/synthetic/rng.ts";
import { commentTexts, generalParagraphs, mmluPracticePages, STATEMENT_SEP } from "./corpora.ts";
import { archFields, createModel, saveModel, trainingFields, trainLM, type Example } from "./models.ts";

/** How the pretraining text is assembled (`pretrainExamples`). */
export interface PretrainText {
  /** General text only (the win-rate judge): no forum comments. */
  readonly clean: boolean;
  /** Forum comments per thread. */
  readonly threadSize: number;
  readonly seed: number;
  /**
   * Consecutive paragraphs (threads, practice pages) are joined, one per line, into documents of at
   * least this many characters, so that training windows fill the whole context and every position is
   * trained (as GPT-style pretraining packs documents); 0 keeps one paragraph per example.
   */
  readonly packChars?: number;
  /** Include the MMLU practice pages (`mmluPracticePages`). */
  readonly practice?: boolean;
}

/** Join consecutive texts (one per line) into documents of at least `minChars` characters. */
export const packTexts = (texts: readonly string[], minChars: number): string[] => {
  if (minChars <= 0) return [...texts];
  const docs: string[] = [];
  let cur: string[] = [], len = -1; // the joined length: texts plus the newlines between them
  for (const t of texts) {
    cur.push(t);
    len += t.length + 1;
    if (len >= minChars) (docs.push(cur.join("\n")), (cur = []), (len = -1));
  }
  if (cur.length > 0) docs.push(cur.join("\n"));
  return docs;
};

/** Pretraining text: general paragraphs (packed), MMLU practice pages, and the labelled comments in threads. */
export const pretrainExamples = (dataDir: string, o: PretrainText): Example[] => {
  const comments = o.clean ? [] : commentTexts(dataDir).map((t) => t.text);
  const shuffled = new Rng(`acft-pretrain-threads/${o.seed}`).shuffle(comments);
  const threads = Array.from({ length: Math.ceil(shuffled.length / o.threadSize) }, (_, i) => shuffled.slice(i * o.threadSize, (i + 1) * o.threadSize).join(STATEMENT_SEP));
  // Batches draw examples uniformly, so every kind is packed alike: each kind then gets a share of the
  // training windows in proportion to its length in characters.
  const pack = (xs: readonly string[]) => packTexts(xs, o.packChars ?? 0);
  return [
    ...pack(generalParagraphs(dataDir, "train")).map((text) => ({ text, domain: "general" as const })),
    ...pack(o.practice ? mmluPracticePages(dataDir) : []).map((text) => ({ text, domain: "general" as const })),
    ...pack(threads).map((text) => ({ text, domain: "toxic" as const })),
  ];
};

export const pretrainParams = Schema.Struct({
  seed: param(Schema.Int, 1, "seed of the initialisation and of the batch order"),
  threadSize: param(Schema.Int.pipe(Schema.positive()), 4, "forum comments per pretraining example (a thread, one comment per line)"),
  packFactor: param(Schema.Number.pipe(Schema.nonNegative()), 8, "general paragraphs are packed into documents of ≥ packFactor × contextLength characters, so windows fill the context (0: one paragraph per example)"),
  mmluPractice: param(Schema.Boolean, false, "include the MMLU val split as answered 5-shot practice pages in both formulations (none asks a dev or test fact)"),
  ...archFields,
  ...trainingFields({ steps: 300, lr: 1e-3 }),
});

/** Train a fresh LM on the pretraining text into ctx.outDir (`clean`: general text only — the judge). */
export const pretrainRun = (clean: boolean) =>
  ({ params, inputs, ctx }: { params: typeof pretrainParams.Type; inputs: { tokenizer: string; data: string }; ctx: StageContext }) =>
    mlStage(ctx, async () => {
      const model = createModel(inputs.tokenizer, params, params.seed);
      try {
        const text = { clean, threadSize: params.threadSize, seed: params.seed, packChars: Math.round(params.packFactor * params.contextLength), practice: params.mmluPractice };
        await trainLM(model, pretrainExamples(inputs.data, text), params, params.seed, trainProgress(ctx), undefined, checkpointing(ctx));
        await saveModel(model, ctx.outDir);
      } finally {
        model.dispose();
      }
    });

export const pretrain = defineStage({
  name: "pretrain",
  version: 3,
  description: "base LM pretraining on general text + forum comments",
  module: import.meta.url,
  params: pretrainParams,
  inputs: { tokenizer: Output.directory(), data: Output.directory() },
  output: Output.directory(),
  run: pretrainRun(false),
});
