// Stage `rl`: the RL baseline (docs/method.md §5) — from the SFT model, REINFORCE with a leave-one-out
// baseline over K samples per prompt (ml/rl.ts), reward C(x) from the oracle, closed-form KL penalty
// to the frozen SFT model. Prompts: the mix's toxic-domain prefixes. Output: a model directory.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";
import { ToxicityClassifier } from "../ml/classify.ts";
import { checkpointHooks, checkpointing, mlStage, readJson } from "./common.ts";
import { oracleReward, trainRL } from "../ml/rl.ts";
import { initLora, mergeLora } from "../ml/lora.ts";
import { deriveSeed } from "../ml/prng.ts";
import { disposeAdapter, loraFields, loraSettings, saveAdapter } from "./lora.ts";
import { loadModel, saveModel, trainingFields } from "./models.ts";

export const rl = defineStage({
  name: "rl",
  version: 1,
  description: "RLOO policy gradient from SFT with reward C(x) and a KL penalty to SFT",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of prompt order and sampling"),
    k: param(Schema.Int.pipe(Schema.greaterThanOrEqualTo(2)), 4, "samples per prompt (leave-one-out baseline needs ≥ 2)"),
    promptsPerStep: param(Schema.Int.pipe(Schema.positive()), 4, "prompts per policy-gradient step"),
    klCoef: param(Schema.Number.pipe(Schema.nonNegative()), 0.05, "β, weight of the KL penalty to the SFT model"),
    maxNewTokens: param(Schema.Int.pipe(Schema.positive()), 24, "tokens per sampled continuation"),
    temperature: param(Schema.Number.pipe(Schema.positive()), 1, "sampling temperature of the rollouts"),
    mode: param(Schema.Literal("hard", "soft"), "hard", "reward C(x): hard 1[tox < τ] or soft 1 − tox"),
    steps: trainingFields({ steps: 40, lr: 1e-4 }).steps,
    lr: trainingFields({ steps: 40, lr: 1e-4 }).lr,
    weightDecay: param(Schema.Number.pipe(Schema.nonNegative()), 0, "AdamW decoupled weight decay (constant learning rate, no warmup)"),
    clipNorm: trainingFields({ steps: 40, lr: 1e-4 }).clipNorm,
    ...loraFields,
  }),
  inputs: { model: Output.directory(), oracle: Output.directory(), mix: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const policy = await loadModel(inputs.model);
      const lora = loraSettings(params, policy.config);
      // With LoRA the policy's own weights stay frozen: they are the KL reference, no second copy.
      const ref = lora ? undefined : await loadModel(inputs.model);
      const adapter = lora && initLora(policy.config, lora, deriveSeed(params.seed, 0x10a));
      try {
        const clf = ToxicityClassifier.load(inputs.oracle);
        const tok = policy.tokenizer;
        const prompts = readJson<string[]>(inputs.mix, "prompts.json").map((p) => tok.encode(p, { bos: true }));
        await trainRL({
          policy: policy.params, reference: ref ? ref.params : policy.params, lora: adapter, config: policy.config, prompts,
          reward: oracleReward(clf, (ids) => tok.decode([...ids]), params.mode),
          steps: params.steps, k: params.k, promptsPerStep: params.promptsPerStep, klCoef: params.klCoef, maxNewTokens: params.maxNewTokens,
          sampling: { temperature: params.temperature }, eos: tok.eos, optimizer: { lr: params.lr, weightDecay: params.weightDecay },
          clipNorm: params.clipNorm, seed: params.seed, checkpoint: checkpointHooks(checkpointing(ctx), policy.config),
          onProgress: (p) => {
            ctx.progress(p.done, p.steps, "steps");
            ctx.metric("reward", p.reward, p.step);
            ctx.metric("loss", p.loss, p.step);
          },
        });
        if (adapter) mergeLora(policy.params, adapter);
        await saveModel(policy, ctx.outDir);
        await saveAdapter(ctx.outDir, adapter, policy.config);
      } finally {
        disposeAdapter(adapter);
        policy.dispose();
        ref?.dispose();
      }
    }),
});
