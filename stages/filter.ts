// Stage `filter`: the Filtration baseline's data (docs/method.md §5) — drop the mix examples the oracle
// marks toxic (tox ≥ τ). Output: a mix directory in the same layout as `mix` (train.jsonl, prompts.json).
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { ToxicityClassifier } from "../ml/classify.ts";
import { StageInputError, syncStage, writeJson, writeJsonl } from "./common.ts";
import { readMix } from "./models.ts";

export const filter = defineStage({
  name: "filter",
  version: 1,
  description: "drop mix examples the oracle marks toxic",
  module: import.meta.url,
  process: "inline", // light I/O: a forked worker would cost more than the work
  params: Schema.Struct({ threshold: param(Schema.Number.pipe(Schema.between(0, 1)), 0.5, "τ: drop examples with tox ≥ τ") }),
  inputs: { mix: Output.directory(), oracle: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    syncStage(() => {
      const examples = readMix(inputs.mix);
      const tox = ToxicityClassifier.load(inputs.oracle).toxicity(examples.map((e) => e.text));
      const kept = examples.filter((_, i) => tox[i] < params.threshold);
      if (kept.length === 0) throw new StageInputError({ stage: "filter", message: `the oracle marks all ${examples.length} mix examples toxic at τ = ${params.threshold}; raise filter.threshold` });
      writeJsonl(ctx.outDir, "train.jsonl", kept);
      copyFileSync(join(inputs.mix, "prompts.json"), join(ctx.outDir, "prompts.json"));
      writeJson(ctx.outDir, "summary.json", { examples: kept.length, dropped: examples.length - kept.length });
      ctx.metric("dropped", examples.length - kept.length);
      ctx.progress(1, 1, "filter");
    }),
});
