// Params every study pipeline shares. `--data-dir D`, `--size S` and `--seed N` are the engine CLI's
// shortcuts for `--set <pipeline>.dataDir=D` etc.; ACFT_DATA_DIR sets the default data dir.
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { SCHEDULES } from "../stages/schedules.ts";
import { SizeName, type SizeName as Size } from "./sizes.ts";

export const studyParams = (size: Size) => ({
  dataDir: param(Schema.String, process.env.ACFT_DATA_DIR ?? "", "data directory in the layout of ../shared/datasets (\"\" = the embedded synthetic world)"),
  size: param(SizeName, size, "study size: tiny (smoke test), small (synthetic default, ~15 min), base (real data)"),
  seed: param(Schema.Int, 1, "seed of every model (the synthetic world has its own, fixed seed)"),
  schedule: param(Schema.Literal(...SCHEDULES), "parallel", "wiring of the regularised iterations in Table 1 (docs/method.md §4)"),
  model: param(Schema.String, "", "pretrained base model: a Hugging Face model directory or a .gguf file (\"\" = pretrain acft's own LM); `--model PATH`"),
});

/** The win-rate judge's checkpoint (pipelines with win rates: `paper`, `smoke`); `--judge-model PATH`. */
export const judgeParams = {
  judgeModel: param(Schema.String, "", "pretrained win-rate judge: a Hugging Face model directory or a .gguf file, scoring with its own tokenizer (\"\" = train acft's judge LM, stronger than the base); `--judge-model PATH`"),
};
