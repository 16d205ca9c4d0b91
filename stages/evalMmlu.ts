// Stage `evalMmlu`: MMLU 5-shot (docs/method.md §6) in both formulations: the original prompt scored by
// the letter A–D with the highest log-probability (MCF), and the cloze prompt scored by the answer text
// (CF); `mmlu` is the better of the two, as OLMES prescribes; accuracy averaged over subjects. Shots are dropped one at a time when the prompt does
// not fit the model's context (as the original evaluation does).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { evaluateMmlu } from "../ml/eval/mmlu.ts";
import { evalProgress, mlStage } from "./common.ts";
import { mmluItems, subset } from "./corpora.ts";
import { withModel } from "./models.ts";

export const MmluOutput = Schema.Struct({
  mmlu: Schema.Number, mmlu_micro: Schema.Number, mmlu_mcf: Schema.Number, mmlu_cf: Schema.Number,
  formulation: Schema.Literal("mcf", "cf"), n: Schema.Int,
});

export const evalMmlu = defineStage({
  name: "evalMmlu",
  version: 2,
  description: "MMLU 5-shot accuracy (macro over subjects)",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of the question subset"),
    questions: param(Schema.Int.pipe(Schema.positive()), 400, "test questions (seeded subset over all subjects)"),
    nShot: param(Schema.Int.pipe(Schema.between(0, 5)), 5, "shots from the dev split (paper: 5)"),
  }),
  inputs: { model: Output.directory(), data: Output.directory() },
  output: Output.value(MmluOutput),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, () =>
      withModel(inputs.model, async (m) => {
        const { dev, test } = mmluItems(inputs.data);
        const r = await evaluateMmlu(m.lm, subset(test, params.questions, params.seed), dev, {
          nShot: params.nShot, fits: m.fits, onProgress: evalProgress(ctx),
        });
        ctx.metric("mmlu", r.mmlu);
        ctx.metric("mmlu_mcf", r.mmlu_mcf);
        ctx.metric("mmlu_cf", r.mmlu_cf);
        ctx.metric("mean_shots", r.meanShots); // < nShot where the context cannot hold every shot
        ctx.metric("mean_shots_cf", r.meanShotsCf);
        return { mmlu: r.mmlu, mmlu_micro: r.mmlu_micro, mmlu_mcf: r.mmlu_mcf, mmlu_cf: r.mmlu_cf, formulation: r.formulation, n: r.n };
      })),
});
