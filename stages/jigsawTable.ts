// Stage `jigsawTable`: the Jigsaw table (docs/method.md §7) — rows Baseline (the base model prompted as a
// classifier), SFT on Jigsaw text, Ours on Jigsaw text, SFT as classifier; columns roc_auc ↑ and the
// toxicity of the model's own generations ↓, with the paper's Llama-7B numbers beside them.
import { Schema } from "effect";
import { defineStage, Output } from "../engine/Stage.ts";
import { syncStage } from "./common.ts";
import { JigsawOutput } from "./evalJigsaw.ts";
import { PAPER_JIGSAW } from "./paperNumbers.ts";

const ROWS = [["baseline", "Baseline"], ["sftText", "SFT on Jigsaw text"], ["oursText", "Ours on Jigsaw text"], ["sftClassifier", "SFT as classifier"]] as const;

export const jigsawTable = defineStage({
  name: "jigsawTable",
  version: 1,
  description: "Jigsaw table: ROC-AUC and own-generation toxicity per fine-tuning variant",
  module: import.meta.url,
  process: "inline",
  params: Schema.Struct({}),
  inputs: { baseline: Output.value(JigsawOutput), sftText: Output.value(JigsawOutput), oursText: Output.value(JigsawOutput), sftClassifier: Output.value(JigsawOutput) },
  output: Output.value(Schema.Array(Schema.Struct({ method: Schema.String, roc_auc: Schema.Number, toxicity_mean: Schema.Number }))),
  run: ({ inputs, ctx }) =>
    syncStage(() => {
      const rows = ROWS.map(([k, label]) => ({ method: label, roc_auc: inputs[k].roc_auc, toxicity_mean: inputs[k].toxicity_mean }));
      ctx.table("jigsaw", rows.map((r, i) => ({
        ...r, toxicity_pct: inputs[ROWS[i][0]].toxicity_pct,
        paper_llama_toxicity: PAPER_JIGSAW[ROWS[i][0]].toxicity, paper_llama_roc_auc: PAPER_JIGSAW[ROWS[i][0]].roc_auc,
      })));
      return rows;
    }),
});
