// Stage `contamination`: the decontamination report (docs/data.md, "Decontamination") — per
// (evaluation set, training source), how many training texts shared a 13-gram with the set's items and
// were dropped by the readers of stages/corpora.ts, and the overlap that remains after the filter
// (contaminated_train_texts, contaminated_eval_texts, overlapping_ngrams: all 0 when the readers are
// right). Reads only the data dir, so one instance serves every seed and size.
import { Schema } from "effect";
import { defineStage, Output } from "../engine/Stage.ts";
import { contaminationRows, ANY_EVAL_SET } from "../data/decontam.ts";
import { syncStage } from "./common.ts";
import { evalIndex, trainingSources } from "./corpora.ts";

const Count = Schema.Int.pipe(Schema.nonNegative());
export const ContaminationRow = Schema.Struct({
  eval_set: Schema.String,
  train_source: Schema.String,
  eval_items: Count,
  eval_short_items: Count,
  train_items: Count,
  removed_items: Count,
  matched_eval_items: Count,
  kept_items: Count,
  contaminated_train_texts: Count,
  contaminated_eval_texts: Count,
  overlapping_ngrams: Count,
});

export const contamination = defineStage({
  name: "contamination",
  version: 1,
  description: "13-gram overlap of evaluation items with training texts: removed by decontamination, and remaining (0)",
  module: import.meta.url,
  params: Schema.Struct({}),
  inputs: { data: Output.directory() },
  output: Output.value(Schema.Array(ContaminationRow)),
  run: ({ inputs, ctx }) =>
    syncStage(() => {
      const t0 = performance.now();
      const index = evalIndex(inputs.data);
      const rows = contaminationRows(index, trainingSources(inputs.data));
      // Durations are metrics, never part of the output (outputs are byte-identical across runs).
      ctx.metric("seconds", (performance.now() - t0) / 1000);
      ctx.metric("eval_ngrams", index.size);
      const any = rows.filter((r) => r.eval_set === ANY_EVAL_SET);
      ctx.metric("removed_texts", any.reduce((a, r) => a + r.removed_items, 0));
      const remaining = any.reduce((a, r) => a + r.contaminated_train_texts, 0);
      ctx.metric("remaining_contaminated_texts", remaining);
      if (remaining > 0)
        ctx.log(`WARNING: ${remaining} training texts still share a 13-gram with an evaluation item after decontamination: ${any.filter((r) => r.contaminated_train_texts > 0).map((r) => `${r.train_source} (${r.contaminated_train_texts})`).join(", ")}; a reader of training text in stages/corpora.ts bypasses decontaminated()`);
      for (const r of any) ctx.log(`${r.train_source}: ${r.removed_items} of ${r.train_items} texts removed (share a 13-gram with ${r.matched_eval_items} evaluation items)`);
      ctx.table("contamination", rows);
      ctx.progress(1, 1, "contamination");
      return rows;
    }),
});
