// Stage `table1`: the paper's Table 1 (docs/method.md) from the evaluation outputs of every method —
// one row per method with the evaluation judge's % toxic ↓ and its 95 % bootstrap interval over prompts,
// the exact McNemar p-value of the paired difference from SFT on the same prompts, the mean score and the
// share just under the threshold ([0.3, 0.5)); the same for the training oracle; then mmlu ↑,
// commonsense ↑, perplexity ↓, and the paper's Llama-7B / Falcon-7B numbers beside them. Also writes
// `judge_oracle_agreement` (Cohen's κ over every continuation, Spearman of the methods' rankings) and
// `metric_directions` (which way is better, per column).
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { defineStage, Output, type Row } from "../engine/Stage.ts";
import { mean, METRICS, pctToxic } from "../ml/metrics.ts";
import { bootstrapInterval, cohenKappa, mcnemarExact, scoreBands, spearman } from "../ml/stats.ts";
import { StageInputError, syncStage } from "./common.ts";
import { CommonsenseOutput } from "./evalCommonsense.ts";
import { MmluOutput } from "./evalMmlu.ts";
import { PerplexityOutput } from "./evalPerplexity.ts";
import { ToxicityOutput } from "./evalToxicity.ts";
import { PAPER_TABLE1 } from "./paperNumbers.ts";

/** The rows of Table 1, in the paper's order: [key, label]. */
export const METHODS = [
  ["base", "Base"], ["sft", "SFT"], ["filtration", "Filtration"], ["rl", "RL"],
  ["nado", "NADO decoding"], ["ours", "Ours w/o adaptive"], ["oursAdaptive", "Ours w/ adaptive"],
] as const;
export type Method = (typeof METHODS)[number][0];

const EVALS = { Tox: Output.value(ToxicityOutput), Mmlu: Output.value(MmluOutput), Cs: Output.value(CommonsenseOutput), Ppl: Output.value(PerplexityOutput) };
type EvalInputs = { [M in Method as `${M}${keyof typeof EVALS}`]: (typeof EVALS)[keyof typeof EVALS] };
const inputs = Object.fromEntries(METHODS.flatMap(([m]) => Object.entries(EVALS).map(([k, v]) => [`${m}${k}`, v]))) as unknown as EvalInputs;

const Nullable = Schema.NullOr(Schema.Number);
export const Table1Row = Schema.Struct({
  method: Schema.String,
  toxicity_pct: Schema.Number, toxicity_pct_lo: Schema.Number, toxicity_pct_hi: Schema.Number, p_vs_sft: Nullable,
  toxicity_mean: Schema.Number, band_30_50_pct: Schema.Number,
  oracle_toxicity_pct: Schema.Number, oracle_toxicity_pct_lo: Schema.Number, oracle_toxicity_pct_hi: Schema.Number, oracle_p_vs_sft: Nullable,
  oracle_toxicity_mean: Schema.Number, oracle_band_30_50_pct: Schema.Number,
  judge_oracle_kappa: Schema.Number,
  mmlu: Schema.Number, mmlu_mcf: Schema.Number, mmlu_cf: Schema.Number, commonsense: Schema.Number, perplexity: Schema.Number,
});
export type Table1Row = typeof Table1Row.Type;

/** Columns with their metric directions, for the `metric_directions` table. */
const COLUMNS = ["toxicity_pct", "toxicity_mean", "oracle_toxicity_pct", "oracle_toxicity_mean", "mmlu", "mmlu_mcf", "mmlu_cf", "commonsense", "perplexity"] as const;

/** Percent of scores ≥ τ, its bootstrap interval over prompts, the mean and the [0.3, 0.5) share. */
export const toxicitySummary = (scores: readonly number[], threshold: number, seed = 1) => {
  const toxic: number[] = scores.map((t) => (t >= threshold ? 100 : 0));
  const { lo, hi } = bootstrapInterval(toxic, (xs) => mean(xs), { seed });
  return { pct: pctToxic(scores, threshold), lo, hi, mean: mean(scores, "toxicity_mean"), band: 100 * scoreBands(scores, [0.3, 0.5])[1] };
};

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Table 1's toxicity columns from the seven evaluations (same prompts, same order): per method the
 * judge's and the oracle's % toxic with bootstrap intervals, exact McNemar p against SFT, means,
 * [0.3, 0.5) shares and κ; and the judge–oracle agreement over every continuation. Pure.
 */
export const toxicityColumns = (tox: Readonly<Record<Method, ToxicityOutput>>) => {
  for (const [m] of METHODS)
    if (tox[m].prompts.length !== tox.sft.prompts.length || tox[m].prompts.some((q, i) => q !== tox.sft.prompts[i]))
      throw new StageInputError({ stage: "table1", message: `the toxicity evaluation of ${m} used other prompts than SFT's; the paired tests need every evalToxicity instance on the same seed and prompts` });
  const tau = tox.sft.threshold;
  const flags = (xs: readonly number[]) => xs.map((t) => t >= tau);
  const columns = Object.fromEntries(METHODS.map(([m]) => {
    const t = tox[m];
    const j = toxicitySummary(t.toxicity, tau), o = toxicitySummary(t.oracleToxicity, tau);
    const vsSft = (mine: readonly number[], sft: readonly number[]) => (m === "sft" ? null : round(mcnemarExact(flags(mine), flags(sft)).p, 4));
    return [m, {
      toxicity_pct: round(j.pct), toxicity_pct_lo: round(j.lo), toxicity_pct_hi: round(j.hi), p_vs_sft: vsSft(t.toxicity, tox.sft.toxicity),
      toxicity_mean: round(j.mean, 4), band_30_50_pct: round(j.band),
      oracle_toxicity_pct: round(o.pct), oracle_toxicity_pct_lo: round(o.lo), oracle_toxicity_pct_hi: round(o.hi), oracle_p_vs_sft: vsSft(t.oracleToxicity, tox.sft.oracleToxicity),
      oracle_toxicity_mean: round(o.mean, 4), oracle_band_30_50_pct: round(o.band),
      judge_oracle_kappa: round(cohenKappa(flags(t.toxicity), flags(t.oracleToxicity)), 3),
    }];
  })) as Record<Method, Omit<Table1Row, "method" | "mmlu" | "mmlu_mcf" | "mmlu_cf" | "commonsense" | "perplexity">>;
  // Agreement over every continuation of every method, and of the two rankings of the methods.
  const allJ = METHODS.flatMap(([m]) => flags(tox[m].toxicity)), allO = METHODS.flatMap(([m]) => flags(tox[m].oracleToxicity));
  // Spearman is undefined when one side is constant (e.g. no method toxic at all): null then.
  const rho = (x: readonly number[], y: readonly number[]) => (new Set(x).size > 1 && new Set(y).size > 1 ? round(spearman(x, y), 4) : null);
  const agreement = {
    continuations: allJ.length, threshold: tau, both_toxic_items: allJ.filter((x, i) => x && allO[i]).length,
    judge_only_items: allJ.filter((x, i) => x && !allO[i]).length, oracle_only_items: allJ.filter((x, i) => !x && allO[i]).length,
    cohen_kappa: round(cohenKappa(allJ, allO), 4),
    score_spearman: rho(METHODS.flatMap(([m]) => tox[m].toxicity), METHODS.flatMap(([m]) => tox[m].oracleToxicity)),
    method_rank_spearman: rho(METHODS.map(([m]) => columns[m].toxicity_pct), METHODS.map(([m]) => columns[m].oracle_toxicity_pct)),
  };
  return { columns, agreement };
};

export const table1 = defineStage({
  name: "table1",
  version: 3,
  description: "Table 1: toxicity, MMLU, commonsense and perplexity per method (+ the paper's numbers)",
  module: import.meta.url,
  process: "inline",
  params: Schema.Struct({ name: param(Schema.String, "table1", "name of the result table") }),
  inputs,
  output: Output.value(Schema.Array(Table1Row)),
  run: ({ params, inputs: ins, ctx }) =>
    syncStage(() => {
      const v = ins as unknown as Record<string, any>;
      const tox = Object.fromEntries(METHODS.map(([m]) => [m, v[`${m}Tox`] as ToxicityOutput])) as Record<Method, ToxicityOutput>;
      const { columns, agreement } = toxicityColumns(tox);
      const rows: Table1Row[] = METHODS.map(([m, label]) => ({
        method: label, ...columns[m], mmlu: v[`${m}Mmlu`].mmlu, mmlu_mcf: v[`${m}Mmlu`].mmlu_mcf, mmlu_cf: v[`${m}Mmlu`].mmlu_cf, commonsense: v[`${m}Cs`].commonsense, perplexity: v[`${m}Ppl`].perplexity,
      }));
      ctx.metric("judge_oracle_kappa", agreement.cohen_kappa);
      if (agreement.method_rank_spearman !== null) ctx.metric("judge_oracle_rank_spearman", agreement.method_rank_spearman);
      ctx.table("judge_oracle_agreement", [agreement]);
      ctx.table(params.name, rows.map((r, i): Row => {
        const paper = PAPER_TABLE1[METHODS[i][0]];
        return {
          ...r,
          paper_llama_toxicity_pct: paper?.llama[0] ?? null, paper_llama_mmlu: paper?.llama[1] ?? null, paper_llama_commonsense: paper?.llama[2] ?? null,
          paper_falcon_toxicity_pct: paper?.falcon[0] ?? null, paper_falcon_mmlu: paper?.falcon[1] ?? null, paper_falcon_commonsense: paper?.falcon[2] ?? null,
        };
      }));
      ctx.table("metric_directions", COLUMNS.map((c) => ({ metric: c, direction: METRICS[c].direction, description: METRICS[c].description })));
      return rows;
    }),
});
