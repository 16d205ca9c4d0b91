// Stage `judge`: the win-rate judge (the paper used OPT-30B) — an LM stronger than every model it judges,
// trained only on clean general text: wider and deeper than the base and trained for more steps, on a
// budget derived from the base's (pipelines/sizes.ts `judgeBudget`); the `winrates` stage reports its
// held-out perplexity beside the judged models'. It prefers the continuation with the better per-token
// log-likelihood given the prompt. `--judge-model PATH` replaces it with a pretrained checkpoint.
import { defineStage, Output } from "../engine/Stage.ts";
import { pretrainParams, pretrainRun } from "./pretrain.ts";

export const judge = defineStage({
  name: "judge",
  version: 2,
  description: "judge LM for win rates (wider, deeper, longer-trained than the base; clean general text only)",
  module: import.meta.url,
  params: pretrainParams,
  inputs: { tokenizer: Output.directory(), data: Output.directory() },
  output: Output.directory(),
  run: pretrainRun(true),
});
