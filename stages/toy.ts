// Stage `method_check`: the whole method on an exact toy (ml/toy/check.ts), one row in the table
// `method_check` comparing each piece with its exact answer. Glue only.
import { Effect, Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { initBackend } from "../ml/backend.ts";
import { METHOD_CHECK_DEFAULTS as D, type MethodCheck, runMethodCheck } from "../ml/toy/check.ts";

const Int = Schema.Int.pipe(Schema.positive());
const Pos = Schema.Number.pipe(Schema.positive());

const MethodCheckRow = Schema.Struct({
  nado_mae: Schema.Number, consistency_err: Schema.Number, q_tv: Schema.Number, kl_abs_err: Schema.Number,
  sat_plain: Schema.Number, sat_regularised: Schema.Number, lm_loss_plain: Schema.Number, lm_loss_regularised: Schema.Number,
});

export const methodCheck = defineStage({
  name: "method_check",
  version: 1,
  description: "NADO, guided sampling, closed-form KL and regularised fine-tuning on an exact toy, vs exact answers",
  module: import.meta.url,
  params: Schema.Struct({
    V: param(Schema.Int.pipe(Schema.between(2, 8)), D.V, "toy vocabulary size (V^L sequences are enumerated)"),
    L: param(Schema.Int.pipe(Schema.between(2, 7)), D.L, "toy sequence length"),
    constraint: param(Schema.Literal("never", "even"), D.constraint, "never: token 0 never appears; even: token 1 appears an even number of times"),
    seed: param(Schema.Int, D.seed, "seed of the toy chains and all sampling"),
    nadoSamples: param(Int, D.nadoSamples, "samples from the base model for NADO training"),
    temperature: param(Pos, D.temperature, "sampling temperature for NADO data (≠ 1 uses importance weights p/q)"),
    nadoSteps: param(Int, D.nadoSteps, "NADO optimizer steps (full batch)"),
    nadoLr: param(Pos, D.nadoLr, "NADO learning rate (AdamW, no decay)"),
    beta: param(Schema.Number.pipe(Schema.nonNegative()), D.beta, "weight β of the consistency regulariser"),
    qSamples: param(Int, D.qSamples, "samples from the guided q for q_tv"),
    ftSamples: param(Int, D.ftSamples, "fine-tuning sequences (from a second random chain)"),
    ftSteps: param(Int, D.ftSteps, "fine-tuning steps per iteration (full batch)"),
    ftLr: param(Pos, D.ftLr, "fine-tuning learning rate"),
    lambda: param(Schema.Number.pipe(Schema.nonNegative()), D.lambda, "regulariser weight λ"),
    iterations: param(Int, D.iterations, "sequential iterations of sample → NADO → fine-tune"),
  }),
  inputs: {},
  output: Output.value(MethodCheckRow),
  run: ({ params, ctx }) =>
    Effect.promise(async (): Promise<MethodCheck> => {
      const backend = await initBackend(process.env.ACFT_BACKEND ?? "wasm");
      ctx.log(`backend: ${backend.detail}`);
      const row = await runMethodCheck(params, (phase, done, total) => ctx.progress(done, total, phase));
      ctx.table("method_check", [{ ...row }]);
      return row;
    }),
});
