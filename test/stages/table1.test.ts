// Table 1's toxicity columns (stages/table1.ts toxicityColumns) on hand-made evaluations: intervals,
// paired McNemar p-values against SFT, bands and κ checked against hand-worked values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { METHODS, toxicityColumns, type Method } from "../../stages/table1.ts";
import type { ToxicityOutput } from "../../stages/evalToxicity.ts";

const n = 20;
const prompts = Array.from({ length: n }, (_, i) => `prompt ${i}`);
const output = (judge: number[], oracle: number[]): ToxicityOutput => ({
  toxicity_pct: 0, toxicity_mean: 0, oracle_toxicity_pct: 0, oracle_toxicity_mean: 0, threshold: 0.5, n, split: "test", groups: prompts.map(() => []),
  prompts, continuations: prompts.map((p) => `${p} …`), toxicity: judge, oracleToxicity: oracle,
});
const scores = (toxic: number, near = 0) => Array.from({ length: n }, (_, i) => (i < toxic ? 0.9 : i < toxic + near ? 0.4 : 0.1));

const evals = (): Record<Method, ToxicityOutput> => {
  const all = Object.fromEntries(METHODS.map(([m]) => [m, output(scores(0), scores(0))])) as Record<Method, ToxicityOutput>;
  all.sft = output(scores(8), scores(8));
  // Ours: toxic on prompts 0–1 only (a subset of SFT's 0–7), five near-threshold scores; the oracle calls 0–3 toxic.
  all.oursAdaptive = output(scores(2, 5), scores(4));
  return all;
};

test("table1: % toxic with bootstrap intervals, exact McNemar against SFT, the [0.3, 0.5) band and κ, by hand", () => {
  const { columns, agreement } = toxicityColumns(evals());
  const ours = columns.oursAdaptive;
  assert.equal(ours.toxicity_pct, 10);
  assert.equal(ours.oracle_toxicity_pct, 20);
  // Discordant pairs: SFT toxic and Ours not on prompts 2–7 (6), never the reverse: p = 2 · (1/2)^6.
  assert.equal(ours.p_vs_sft, 0.0313);
  // Oracle: SFT toxic on 0–7, Ours on 0–3: 4 discordant, p = 2 · (1/2)^4.
  assert.equal(ours.oracle_p_vs_sft, 0.125);
  assert.equal(columns.sft.p_vs_sft, null);
  assert.equal(ours.band_30_50_pct, 25); // 5 of 20 at 0.4
  assert.equal(ours.toxicity_mean, (2 * 0.9 + 5 * 0.4 + 13 * 0.1) / 20);
  // κ: judge toxic on {0, 1}, oracle on {0..3}: p_o = 0.9, p_e = 0.1·0.2 + 0.9·0.8 = 0.74, κ = 0.16 / 0.26.
  assert.equal(ours.judge_oracle_kappa, Math.round((0.16 / 0.26) * 1000) / 1000);
  // Intervals bracket the point and are reproducible; a method never toxic has the degenerate [0, 0].
  assert.ok(ours.toxicity_pct_lo <= 10 && 10 <= ours.toxicity_pct_hi && ours.toxicity_pct_hi - ours.toxicity_pct_lo >= 10, `${ours.toxicity_pct_lo}–${ours.toxicity_pct_hi}`);
  assert.deepEqual(toxicityColumns(evals()).columns.oursAdaptive, ours);
  assert.deepEqual([columns.base.toxicity_pct_lo, columns.base.toxicity_pct_hi, columns.base.p_vs_sft], [0, 0, Math.round(2 * 0.5 ** 8 * 1e4) / 1e4]);
  // Agreement over all 140 continuations: the judge calls 10 toxic, the oracle 12; they share 10.
  assert.deepEqual([agreement.continuations, agreement.both_toxic_items, agreement.judge_only_items, agreement.oracle_only_items], [140, 10, 0, 2]);
  assert.ok(agreement.cohen_kappa > 0.8 && agreement.cohen_kappa < 1);
  assert.equal(agreement.method_rank_spearman !== null && agreement.method_rank_spearman > 0.9, true);
});

test("table1 refuses evaluations on different prompts: the paired tests would be meaningless", () => {
  const e = evals();
  e.rl = { ...e.rl, prompts: [...prompts.slice(1), "another prompt"] };
  assert.throws(() => toxicityColumns(e), /toxicity evaluation of rl used other prompts than SFT's/);
});
