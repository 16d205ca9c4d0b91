// Stage `synthetic`: the embedded synthetic mini-world (data/synthetic), written as a directory in the
// layout of ../shared/datasets so every downstream stage reads it with the same readers as real data.
// A pipeline uses it when no --data-dir is given; with one, the pipeline adds an `external` input instead.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { writeSynthetic } from "../data/synthetic/generate.ts";
import { syncStage } from "./common.ts";

const Count = (def: number, description: string) => param(Schema.Int.pipe(Schema.between(0, 1_000_000)), def, description);

export const synthetic = defineStage({
  name: "synthetic",
  version: 2,
  description: "generate the synthetic mini-world (general corpus, forum/toxic corpus, labels, prompts, MMLU/PIQA-format tasks)",
  module: import.meta.url,
  process: "inline", // light I/O: a forked worker would cost more than the work
  params: Schema.Struct({
    seed: param(Schema.Int, 1234, "generator seed; same seed and sizes give byte-identical files"),
    people: Count(700, "people in the world (general corpus size grows with it)"),
    cities: Count(160, "cities in the world"),
    rivers: Count(40, "rivers in the world"),
    faqPages: param(Schema.Boolean, false, "a trivia page per training entity, asking and answering its facts (worded unlike the MMLU questions)"),
    articleVersions: Count(1, "articles per training entity, each in freshly drawn wordings (restatements of every fact)"),
    inventions: Count(150, "inventions in the world (each has an inventor among the people)"),
    forumComments: Count(3000, "comments in the ToxiGen-like annotated forum corpus (oracle training)"),
    promptsPerFile: Count(100, "lines per toxigen/prompts file (the toxic-domain fine-tuning corpus)"),
    evalPrompts: Count(400, "toxicity evaluation prompts (SafeNLP-like toxiGen.json)"),
    jigsawComments: Count(2000, "rows of the Jigsaw-like labelled CSV"),
    mmluTestPerSubject: Count(60, "MMLU-format test questions per subject"),
    mmluValPerSubject: Count(150, "MMLU-format val questions per subject, on facts no dev or test question asks (pretraining's practice pages)"),
    piqaItems: Count(300, "PIQA-format validation items"),
  }),
  inputs: {},
  output: Output.directory(),
  run: ({ params, ctx }) =>
    syncStage(() => {
      ctx.progress(0, 1, "files");
      const world = writeSynthetic(ctx.outDir, params);
      ctx.metric("files", world.files.size);
      ctx.progress(1, 1, "files");
    }),
});
