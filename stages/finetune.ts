// Stage `finetune`: the regularised fine-tuning of one iteration, job (3) (docs/method.md §3):
//   L(θ) = E_D[−log p_θ(x)] + λ · E_{D_reg} Σ_t KL(q_t ‖ p_θ(·|x<t)),  q_t ∝ p_θ̄(·|x<t) · R_φ(x<t ⊕ ·)^α
// starting from θ_{i−1} (input `model`, also the frozen snapshot θ̄) with the NADO model φ (input `nado`).
// Adaptive: D_reg = the toxic-domain examples of the mix only; otherwise D_reg = D. λ = 0 is plain SFT.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { checkpointing, mlStage, trainProgress } from "./common.ts";
import { disposeAdapter, loraFields, loraSettings, saveAdapter } from "./lora.ts";
import { loadModel, readMix, saveModel, trainingFields, trainLM } from "./models.ts";

export const finetune = defineStage({
  name: "finetune",
  version: 1,
  description: "fine-tuning with the closed-form KL regulariser towards the NADO-guided q",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of the batch order"),
    lambda: param(Schema.Number.pipe(Schema.nonNegative()), 1, "λ, weight of the KL regulariser (0 = plain fine-tuning)"),
    adaptive: param(Schema.Boolean, true, "regularise only the toxic-domain examples (D_reg = toxic part of the mix)"),
    alpha: param(Schema.Number.pipe(Schema.nonNegative()), 1, "α in q ∝ p · R^α (paper: 1)"),
    ...trainingFields({ steps: 50, lr: 5e-4 }),
    ...loraFields,
  }),
  inputs: { model: Output.directory(), nado: Output.directory(), mix: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const model = await loadModel(inputs.model);
      try {
        const examples = readMix(inputs.mix).map((e) => ({ ...e, regularise: !params.adaptive || e.domain === "toxic" }));
        const adapter = await trainLM(model, examples, params, params.seed, trainProgress(ctx), {
          snapshot: inputs.model, nado: inputs.nado, lambda: params.lambda, alpha: params.alpha,
        }, checkpointing(ctx), loraSettings(params, model.config));
        try {
          await saveModel(model, ctx.outDir);
          await saveAdapter(ctx.outDir, adapter, model.config);
        } finally {
          disposeAdapter(adapter);
        }
      } finally {
        model.dispose();
      }
    }),
});
