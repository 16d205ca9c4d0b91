// Stage `toxicityJudge`: the evaluation judge of toxicity (ml/transformerClassifier.ts) — the win-rate
// judge LM fine-tuned with a logistic head on labelled texts disjoint from the oracle's
// (stages/corpora.ts judgeTexts). The oracle trains the methods (NADO labels, RL reward, filtering);
// the judge scores them. Output directory: the fine-tuned LM (stages/models.ts layout) + head.json
// + info.json; the `toxicity_classifiers` table gives both classifiers' ROC-AUC per data source.
import { join } from "node:path";
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output, type Row } from "../engine/Stage.ts";
import { ToxicityClassifier } from "../ml/classify.ts";
import { rocAuc } from "../ml/metrics.ts";
import { trainTransformerClassifier, TransformerClassifier, type ClassifierHead, type TransformerClassifierInfo } from "../ml/transformerClassifier.ts";
import { mlStage, readJson, StageInputError, trainProgress, writeJson } from "./common.ts";
import { judgeTexts, oracleTexts, subset } from "./corpora.ts";
import { loadModel, saveModel } from "./models.ts";

const HEAD_FILE = "head.json";

export const toxicityJudge = defineStage({
  name: "toxicityJudge",
  version: 1,
  description: "evaluation judge of toxicity: the judge LM fine-tuned as a classifier on data disjoint from the oracle's",
  module: import.meta.url,
  params: Schema.Struct({
    seed: param(Schema.Int, 1, "seed of the subsets, the held-out split and the training order"),
    perSource: param(Schema.Int.pipe(Schema.positive()), 4000, "cap on labelled training texts per data source (seeded subset)"),
    steps: param(Schema.Int.pipe(Schema.positive()), 300, "optimizer steps"),
    batchSize: param(Schema.Int.pipe(Schema.positive()), 32, "texts per step"),
    lr: param(Schema.Number.pipe(Schema.positive()), 5e-4, "peak learning rate (AdamW, warmup + cosine)"),
    heldOutFraction: param(Schema.Number.pipe(Schema.between(0.05, 0.5)), 0.15, "fraction held out for the ROC-AUC"),
    crossItems: param(Schema.Int.pipe(Schema.positive()), 2000, "oracle-data texts the judge is also scored on (seeded subset)"),
  }),
  inputs: { lm: Output.directory(), oracle: Output.directory(), data: Output.directory() },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    mlStage(ctx, async () => {
      const texts = judgeTexts(inputs.data, params.perSource, params.seed);
      if (texts.length < 20 || !texts.some((t) => t.label >= 0.5) || !texts.some((t) => t.label < 0.5))
        throw new StageInputError({ stage: "toxicityJudge", message: `the data dir ${inputs.data} has ${texts.length} labelled texts the oracle does not train on (need ≥ 20, both classes): the judge needs jigsaw_toxic or toxigen/prompts beside toxigen/annotated (see docs/data.md)` });
      const m = await loadModel(inputs.lm);
      try {
        const clf = await trainTransformerClassifier(m.params, m.config, m.tokenizer, texts, {
          steps: params.steps, batchSize: params.batchSize, lr: params.lr, heldOutFraction: params.heldOutFraction, seed: params.seed, onProgress: trainProgress(ctx),
        });
        await saveModel(m, ctx.outDir);
        writeJson(ctx.outDir, HEAD_FILE, { w: [...clf.head.w], b: clf.head.b });
        // Cross-source: the judge on the oracle's data, and the oracle on a sample of the judge's data.
        const oracle = ToxicityClassifier.load(inputs.oracle);
        const cross = subset(oracleTexts(inputs.data), params.crossItems, params.seed);
        const judgeSample = subset(texts, params.crossItems, params.seed);
        const auc = (scores: readonly number[], xs: readonly { label: number }[]) => rocAuc(scores, xs.map((x) => (x.label >= 0.5 ? 1 : 0)));
        const info = { ...clf.info, oracleDataAuc: auc(clf.toxicity(cross.map((t) => t.text)), cross), oracleOnJudgeDataAuc: auc(oracle.toxicity(judgeSample.map((t) => t.text)), judgeSample) };
        writeJson(ctx.outDir, "info.json", info);
        const rows: Row[] = [
          ...Object.entries(clf.info.heldOutAucBySource).map(([src, r]) => ({ classifier: "judge", eval_data: `${src} (held out)`, n: r.n, roc_auc: r.auc })),
          { classifier: "judge", eval_data: "oracle's training data", n: cross.length, roc_auc: info.oracleDataAuc },
          { classifier: "oracle", eval_data: "oracle's held-out split", n: oracle.info.heldOutSize, roc_auc: oracle.info.heldOutAuc },
          { classifier: "oracle", eval_data: "judge's training data", n: judgeSample.length, roc_auc: info.oracleOnJudgeDataAuc },
        ];
        ctx.table("toxicity_classifiers", rows);
        ctx.metric("held_out_auc", clf.info.heldOutAuc);
        ctx.log(`toxicity judge held-out ROC-AUC ${clf.info.heldOutAuc.toFixed(4)} on ${clf.info.heldOutSize} texts; on the oracle's data ${info.oracleDataAuc.toFixed(4)}`);
      } finally {
        m.dispose();
      }
    }),
});

/** Load the judge saved by `toxicityJudge`, run `f`, dispose its tensors. */
export const withToxicityJudge = async <A>(dir: string, f: (judge: TransformerClassifier) => Promise<A> | A): Promise<A> => {
  const m = await loadModel(dir);
  try {
    const h = readJson<{ w: number[]; b: number }>(dir, HEAD_FILE);
    const info = readJson<TransformerClassifierInfo>(dir, "info.json");
    if (h.w.length !== m.config.dModel)
      throw new StageInputError({ stage: "toxicityJudge", message: `${join(dir, HEAD_FILE)} has ${h.w.length} weights for a model of width ${m.config.dModel}: the directory is corrupt; rerun the toxicityJudge stage` });
    const head: ClassifierHead = { w: Float32Array.from(h.w), b: h.b };
    return await f(new TransformerClassifier(m.params, m.config, m.tokenizer, head, info));
  } finally {
    m.dispose();
  }
};
