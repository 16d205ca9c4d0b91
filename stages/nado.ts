// Stage `nado`: train-NADO, job (2) of an iteration (METHOD.md §2): the auxiliary model R_φ trained on
// labelled samples with base p (the model they were drawn from), per-prefix BCE + β · consistency,
// importance-weighted when T ≠ 1. Optionally warm-started from the previous iteration's φ (input
// `init`; the `nadoWarm` stage). Output: a NADO directory.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import type { StageContext } from "../engine/Stage.ts";
import { mlStage, readJson, trainProgress } from "./common.ts";
import { loadModel, trainNadoInto, trainingFields, type Samples } from "./models.ts";

const nadoParams = Schema.Struct({
  seed: param(Schema.Int, 1, "seed of the NADO initialisation and batch order"),
  beta: param(Schema.Number.pipe(Schema.nonNegative()), 0.5, "β, weight of the consistency regulariser"),
  nLayers: param(Schema.Int.pipe(Schema.positive()), 2, "NADO transformer blocks (its width follows the base model)"),
  ...trainingFields({ steps: 150, lr: 1e-3 }),
});
type NadoParams = typeof nadoParams.Type;

const run = (ctx: StageContext, params: NadoParams, base: string, samples: string, init?: string) =>
  mlStage(ctx, async () => {
    const model = await loadModel(base);
    try {
      await trainNadoInto(ctx.outDir, { base: model, samples: readJson<Samples>(samples, "samples.json"), init, params, onProgress: trainProgress(ctx) });
    } finally {
      model.dispose();
    }
  }, { timing: true });

export const nado = defineStage({
  name: "nado",
  version: 1,
  description: "train the NADO model R_φ on labelled samples of a base model (cold start)",
  module: import.meta.url,
  params: nadoParams,
  inputs: { base: Output.directory(), samples: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) => run(ctx, params, inputs.base, inputs.samples),
});

export const nadoWarm = defineStage({
  name: "nadoWarm",
  version: 1,
  description: "train the NADO model R_φ_i warm-started from φ_{i−1}",
  module: import.meta.url,
  params: nadoParams,
  inputs: { base: Output.directory(), samples: Output.directory(), init: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) => run(ctx, params, inputs.base, inputs.samples, inputs.init),
});
