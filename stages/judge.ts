// Stage `judge`: the win-rate judge (METHOD.md §6; the paper used OPT-30B) — a larger LM than the base,
// trained only on clean general text. It prefers the continuation with the better per-token
// log-likelihood given the prompt.
import { defineStage, Output } from "../engine/Stage.ts";
import { pretrainParams, pretrainRun } from "./pretrain.ts";

export const judge = defineStage({
  name: "judge",
  version: 2,
  description: "judge LM for win rates (larger, clean general text only)",
  module: import.meta.url,
  params: pretrainParams,
  inputs: { tokenizer: Output.directory(), data: Output.directory() },
  output: Output.directory(),
  run: pretrainRun(true),
});
