// `paper`: the paper's study — Table 1 (seven methods × toxicity, MMLU, commonsense, perplexity), the
// win-rate matrix and the Jigsaw table — on the synthetic world (default) or a data dir.
import { Schema } from "effect";
import { definePipeline } from "../engine/Pipeline.ts";
import { judgeParams, studyParams } from "./params.ts";
import { buildStudy } from "./study.ts";

export const paper = definePipeline({
  name: "paper",
  description: "Table 1, win rates and Jigsaw (synthetic world by default; --data-dir for real data)",
  params: Schema.Struct({ ...studyParams("small"), ...judgeParams }),
  build: (p, params) => void buildStudy(p, params),
});
