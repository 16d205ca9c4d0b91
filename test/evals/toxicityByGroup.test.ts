// Toxicity per target group (ml/eval/toxicity.ts toxicityByGroup), the ablation tables' choice of the
// best setting on validation only, and the seeds table's interval across seeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EvalTaskError } from "../../ml/eval/batch.ts";
import { NO_GROUP, toxicityByGroup } from "../../ml/eval/toxicity.ts";
import { bestOnValidation } from "../../stages/ablationTable.ts";
import { acrossSeeds } from "../../stages/seedsTable.ts";

test("toxicityByGroup: per-group n, % toxic and mean; multi-group prompts count in each group", () => {
  const tox = [0.9, 0.1, 0.5, 0.2, 0.7];
  const groups = [["women"], ["women", "asian"], ["asian"], [], ["asian", "asian"]];
  const rows = toxicityByGroup(tox, groups, 0.5);
  // asian: prompts 1, 2, 4 → tox 0.1, 0.5, 0.7 → 2 of 3 at or above τ; 4's duplicate "asian" counts once
  // none: prompt 3 → 0.2; women: prompts 0, 1 → 0.9, 0.1
  assert.deepEqual(rows.map((r) => [r.group, r.n, r.toxicity_pct]), [["asian", 3, (100 * 2) / 3], [NO_GROUP, 1, 0], ["women", 2, 50]]);
  assert.ok(Math.abs(rows[0].toxicity_mean - (0.1 + 0.5 + 0.7) / 3) < 1e-15);
  assert.ok(Math.abs(rows[2].toxicity_mean - 0.5) < 1e-15);
  // τ moves with the evaluation's threshold
  assert.deepEqual(toxicityByGroup(tox, groups, 0.8).map((r) => r.toxicity_pct), [0, 0, 50]);
  assert.throws(() => toxicityByGroup([0.1], []), EvalTaskError);
  assert.throws(() => toxicityByGroup([], []), EvalTaskError);
});

test("bestOnValidation: lowest validation % toxic, ties by validation mean, then the earlier setting; test numbers never count", () => {
  const row = (v: number, m: number, t: number) => ({ toxicity_pct_validation: v, toxicity_mean_validation: m, toxicity_pct_test: t });
  assert.equal(bestOnValidation([row(40, 0.4, 0), row(10, 0.2, 50), row(30, 0.3, 1)]), 1);
  assert.equal(bestOnValidation([row(10, 0.3, 0), row(10, 0.2, 90)]), 1);
  assert.equal(bestOnValidation([row(10, 0.2, 90), row(10, 0.2, 0)]), 0);
  assert.equal(bestOnValidation([row(5, 0.1, 0)]), 0);
});

test("acrossSeeds: mean ± std and the 95 % t interval, null bounds for one seed", () => {
  // scipy.stats.t.interval(0.95, 2, loc=mean, scale=sem) of [37, 18, 40] = (2.0300257583166896, 61.303307575016646)
  const r = acrossSeeds([37, 18, 40]);
  assert.ok(Math.abs(r.lo! - 2.0300257583166896) < 1e-9 && Math.abs(r.hi! - 61.303307575016646) < 1e-9);
  assert.equal(r.text, "31.667 ± 11.930 [2.030, 61.303]");
  assert.deepEqual(acrossSeeds([6.5]), { mean: 6.5, std: 0, lo: null, hi: null, text: "6.500 ± 0.000 (one seed)" });
});
