// Stage `nado`: train-NADO, job (2) of an iteration (docs/method.md §2): the auxiliary model R_φ
// (ml/nado/model.ts: a transformer of the base's width with its own embeddings) trained on labelled
// samples with base p (ml/nado/train.ts: per-prefix BCE + β · consistency, importance-weighted when
// T ≠ 1). Warm-started from the previous iteration's φ in the `nadoWarm` stage (input `init`).
// Output: a NADO directory (stages/models.ts).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import type { StageContext } from "../engine/Stage.ts";
import { checkpointHooks, checkpointing, mlStage, readJson, trainProgress } from "./common.ts";
import { disposeParams } from "../ml/lm.ts";
import { nadoVariables } from "../ml/nado/model.ts";
import { trainNado, type NadoSample } from "../ml/nado/train.ts";
import { loadModel, loadNado, saveNado } from "./models.ts";

const nadoParams = Schema.Struct({
  seed: param(Schema.Int, 1, "seed of the NADO initialisation and batch order"),
  beta: param(Schema.Number.pipe(Schema.nonNegative()), 0.5, "β, weight of the consistency regulariser"),
  nLayers: param(Schema.Int.pipe(Schema.positive()), 2, "NADO transformer blocks (its width follows the base model)"),
  baseHidden: param(Schema.Boolean, false, "the NADO also reads the frozen base model's hidden states (a small NADO on top of a large pretrained base); decoding and the regulariser feed them too"),
  steps: param(Schema.Int.pipe(Schema.nonNegative()), 150, "optimizer steps"),
  batchSize: param(Schema.Int.pipe(Schema.positive()), 16, "samples per step"),
  lr: param(Schema.Number.pipe(Schema.positive()), 1e-3, "peak learning rate (AdamW, warmup + cosine decay)"),
});
type NadoParams = typeof nadoParams.Type;

const run = (ctx: StageContext, params: NadoParams, base: string, samples: string, init?: string) =>
  mlStage(ctx, async () => {
    const model = await loadModel(base);
    const warm = init === undefined ? undefined : await loadNado(init);
    try {
      const nadoCfg = warm?.cfg ?? { body: { ...model.config, nLayers: params.nLayers }, ...(params.baseHidden ? { baseHidden: model.config.dModel } : {}) };
      const { nado } = await trainNado({
        base: model.params, baseCfg: model.config, nadoCfg, samples: readJson<NadoSample[]>(samples, "samples.json"), nadoInit: warm?.params,
        beta: params.beta, steps: params.steps, batchSize: params.batchSize, lr: params.lr, padId: model.tokenizer.pad, seed: params.seed,
        onProgress: trainProgress(ctx), checkpoint: checkpointHooks(checkpointing(ctx), nadoCfg),
      });
      await saveNado(ctx.outDir, { params: nado, cfg: nadoCfg });
      disposeParams(nadoVariables(nado));
    } finally {
      model.dispose();
      warm?.dispose();
    }
  });

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
