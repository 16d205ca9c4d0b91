// Stage `guided`: the NADO-decoding baseline (docs/method.md §5) as a model directory: the SFT model
// unchanged plus R_φ trained on its samples; evaluations load it as a LanguageModel that samples from and
// scores under q(v|h) ∝ p(v|h) · R_φ(h ⊕ v)^α. Both parts are copied in, so the directory stands alone.
import { cpSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { syncStage, writeJson } from "./common.ts";
import { GUIDED_MANIFEST } from "./models.ts";

export const guided = defineStage({
  name: "guided",
  version: 1,
  description: "NADO-guided decoding model: base model + R_φ, sampled from q ∝ p · R^α",
  module: import.meta.url,
  process: "inline", // light I/O: a forked worker would cost more than the work
  params: Schema.Struct({ alpha: param(Schema.Number.pipe(Schema.nonNegative()), 1, "α in q ∝ p · R^α (paper: 1)") }),
  inputs: { model: Output.directory(), nado: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    syncStage(() => {
      cpSync(inputs.model, join(ctx.outDir, "base"), { recursive: true });
      cpSync(inputs.nado, join(ctx.outDir, "nado"), { recursive: true });
      writeJson(ctx.outDir, GUIDED_MANIFEST, { kind: "guided", alpha: params.alpha });
      ctx.progress(1, 1, "copy");
    }),
});
