import { test } from "node:test";
import assert from "node:assert/strict";
import { METRICS, MetricInputError, accuracy, isBetter, metricInfo, pctToxic, perplexityFromNll, rocAuc, std } from "../../ml/metrics.ts";

// O(n²) definition: P(score₊ > score₋) + ½ P(score₊ = score₋) over all positive/negative pairs.
function pairwiseAuc(s: number[], y: number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < s.length; i++)
    for (let j = 0; j < s.length; j++)
      if (y[i] === 1 && y[j] === 0) {
        den++;
        num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
      }
  return num / den;
}

test("rocAuc: hand-computed cases", () => {
  // positives 0.35 (beats 0.1, loses to 0.4) and 0.8 (beats both): 3 of 4 pairs.
  assert.equal(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  // a tie between a positive and a negative counts ½: (1 + ½ + 2) / 4
  assert.equal(rocAuc([1, 2, 2, 3], [0, 0, 1, 1]), 0.875);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  assert.equal(rocAuc([3, 2, 1], [0, 1, 1]), 0); // perfectly inverted
  assert.equal(rocAuc([1, 2, 3], [false, true, true]), 1);
  // infinite scores order and tie correctly (−∞ < 0 < ∞; ∞ = ∞ is a tie)
  assert.equal(rocAuc([-Infinity, Infinity, 0, Infinity], [0, 1, 0, 0]), (1 + 1 + 0.5) / 3);
});

test("rocAuc equals the pairwise definition on random data with many ties", () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + Math.floor(rnd() * 60);
    const y = Array.from({ length: n }, (_, i) => (i < 2 ? i : rnd() < 0.4 ? 1 : 0));
    const s = Array.from({ length: n }, () => Math.floor(rnd() * 6) / 5); // 6 distinct values → ties
    assert.ok(Math.abs(rocAuc(s, y) - pairwiseAuc(s, y)) < 1e-12);
  }
});

test("rocAuc rejects one-class labels, NaN scores and length mismatch with typed errors", () => {
  assert.throws(() => rocAuc([1, 2], [1, 1]), (e: unknown) => e instanceof MetricInputError && /both classes/.test(e.message));
  assert.throws(() => rocAuc([1, NaN], [0, 1]), MetricInputError);
  assert.throws(() => rocAuc([1, 2, 3], [0, 1]), MetricInputError);
  assert.throws(() => rocAuc([1, 2], [0, 2]), /not 0\/1/);
});

test("small metrics", () => {
  assert.equal(accuracy([0, 1, 2, 3], [0, 1, 0, 0]), 0.5);
  assert.equal(pctToxic([0.1, 0.5, 0.49, 0.9], 0.5), 50); // τ itself counts as toxic
  assert.ok(Math.abs(perplexityFromNll(10 * Math.log(7), 10) - 7) < 1e-12);
  assert.ok(Math.abs(std([2, 4, 4, 4, 5, 5, 7, 9]) - Math.sqrt(32 / 7)) < 1e-12);
  assert.equal(std([3]), 0);
  assert.throws(() => perplexityFromNll(1, 0), MetricInputError);
});

test("metric registry: every metric has a direction and description; unknown names list the known", () => {
  for (const m of Object.values(METRICS)) {
    assert.ok(m.direction === "higher" || m.direction === "lower");
    assert.ok(m.description.length > 10);
  }
  assert.equal(metricInfo("toxicity_pct").direction, "lower");
  assert.equal(metricInfo("mmlu").direction, "higher");
  assert.equal(metricInfo("perplexity").direction, "lower");
  assert.ok(isBetter("perplexity", 10, 12));
  assert.ok(isBetter("roc_auc", 0.9, 0.8));
  assert.throws(() => metricInfo("toxicty_pct"), /known: .*toxicity_pct/);
});
