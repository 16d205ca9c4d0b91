// ml/stats.ts against closed-form, hand-worked and scipy-quoted references.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MetricInputError, mean } from "../../ml/metrics.ts";
import { makeRng } from "../../ml/prng.ts";
import {
  binomialTwoSidedHalf, bootstrapInterval, cohenKappa, mcnemarExact, midRanks, quantileSorted, scoreBands, spearman, studentTCdf, tInterval, tQuantile,
} from "../../ml/stats.ts";

const close = (a: number, b: number, tol: number, what = "") => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tol ${tol})`);
const rel = (a: number, b: number, tol: number, what = "") => assert.ok(Math.abs(a - b) <= tol * Math.abs(b), `${what} ${a} vs ${b} (rel tol ${tol})`);
const isMetricError = (e: unknown) => e instanceof MetricInputError;

/** Exact Bin(n, p) quantile: the smallest k with P[X ≤ k] ≥ q (pmf by the ratio recurrence in float64). */
const binomQuantile = (n: number, p: number, q: number): number => {
  let pmf = (1 - p) ** n, cdf = pmf;
  for (let k = 0; k < n; k++) {
    if (cdf >= q) return k;
    pmf *= ((n - k) / (k + 1)) * (p / (1 - p));
    cdf += pmf;
  }
  return n;
};

test("bootstrap of a proportion: the percentile interval matches the binomial closed form, and is reproducible", () => {
  // n = 400 items, 80 of them 1: the bootstrap distribution of the mean is Bin(400, 0.2) / 400 (as B → ∞).
  const n = 400, p = 0.2;
  const values = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : 0));
  const ci = bootstrapInterval(values, (xs) => mean(xs));
  // Reference 1, the normal closed form: p ± 1.96 sqrt(p(1 − p)/n) = 0.2 ± 0.0392 = [0.1608, 0.2392].
  // Tolerance 0.006, the sum of: the Monte Carlo error of a 2.5 % / 97.5 % quantile of B = 2000 draws,
  // sqrt(0.025 · 0.975 / 2000) / f ≈ 0.0035 / 2.92 ≈ 0.0012 per endpoint (f = φ(1.96)/0.02 the density
  // there), times 3; the statistic's grid 1/400 = 0.0025 (it takes only multiples of it); and the
  // binomial's skew, which moves its quantiles (z² − 1) γ/6 · σ ≈ 0.0007 from the normal ones
  // (γ = (1 − 2p)/sqrt(np(1 − p)) = 0.075). Total 0.0036 + 0.0025 + 0.0007 ≈ 0.006.
  const half = 1.96 * Math.sqrt((p * (1 - p)) / n);
  close(ci.lo, p - half, 0.006, "lo vs normal");
  close(ci.hi, p + half, 0.006, "hi vs normal");
  // Reference 2, exact: the 2.5 % and 97.5 % quantiles of Bin(400, 0.2)/400 (65/400 and 96/400, as
  // scipy.stats.binom.ppf gives), within the Monte Carlo error and one grid step.
  close(ci.lo, binomQuantile(n, p, 0.025) / n, 0.0036 + 0.0025, "lo vs exact binomial");
  close(ci.hi, binomQuantile(n, p, 0.975) / n, 0.0036 + 0.0025, "hi vs exact binomial");
  assert.equal(binomQuantile(n, p, 0.025), 65);
  assert.equal(binomQuantile(n, p, 0.975), 96);
  // Exactly reproducible with a seed; another seed gives another (equally valid) interval.
  assert.deepEqual(bootstrapInterval(values, (xs) => mean(xs)), ci);
  assert.deepEqual(bootstrapInterval(values, (xs) => mean(xs), { seed: 1, resamples: 2000, level: 0.95 }), ci);
  const other = bootstrapInterval(values, (xs) => mean(xs), { seed: 7 });
  assert.notDeepEqual(other, ci);
  close(other.lo, ci.lo, 0.006, "seed 7 lo");
  // A 50 % interval sits inside the 95 % one; a constant sample has a zero-width interval.
  const narrow = bootstrapInterval(values, (xs) => mean(xs), { level: 0.5 });
  assert.ok(narrow.lo > ci.lo && narrow.hi < ci.hi, JSON.stringify({ narrow, ci }));
  assert.deepEqual(bootstrapInterval([3, 3, 3], (xs) => mean(xs), { resamples: 50 }), { lo: 3, hi: 3 });
});

test("bootstrap and quantile: typed errors for bad input", () => {
  assert.throws(() => bootstrapInterval([], (xs) => mean(xs)), isMetricError);
  assert.throws(() => bootstrapInterval([1, NaN], (xs) => mean(xs)), isMetricError);
  assert.throws(() => bootstrapInterval([1, 2], (xs) => mean(xs), { level: 1 }), isMetricError);
  assert.throws(() => bootstrapInterval([1, 2], (xs) => mean(xs), { resamples: 0 }), isMetricError);
  assert.throws(() => bootstrapInterval([1, 2], () => NaN), /NaN on resample 0/);
  // type-7 quantile: h = (n − 1) q interpolated
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantileSorted([1, 2, 3, 4], 1 / 3), 2);
  assert.equal(quantileSorted([10, 20], 0.25), 12.5);
});

test("mcnemarExact: the hand-worked case, symmetry, no discordant pairs", () => {
  // 8 pairs a ∧ ¬b, 2 pairs ¬a ∧ b, 5 concordant: p = 2 · P[Bin(10, ½) ≤ 2] = 2 (1 + 10 + 45)/1024 = 0.109375.
  const a = [...Array(8).fill(true), ...Array(2).fill(false), true, true, false, false, false];
  const b = [...Array(8).fill(false), ...Array(2).fill(true), true, true, false, false, false];
  const r = mcnemarExact(a, b);
  assert.deepEqual({ n10: r.n10, n01: r.n01 }, { n10: 8, n01: 2 });
  close(r.p, 0.109375, 1e-15);
  const s = mcnemarExact(b, a);
  assert.deepEqual({ n10: s.n10, n01: s.n01, p: s.p }, { n10: 2, n01: 8, p: r.p });
  // no discordant pairs → p = 1; an even split → the doubled tail exceeds 1, capped at 1
  assert.equal(mcnemarExact([true, false], [true, false]).p, 1);
  assert.equal(binomialTwoSidedHalf(5, 5), 1);
  // 1 vs 0: 2 · P[Bin(1, ½) ≤ 0] = 1; 6 vs 0: 2/64
  assert.equal(binomialTwoSidedHalf(1, 0), 1);
  close(binomialTwoSidedHalf(6, 0), 2 / 64, 1e-16);
  assert.throws(() => mcnemarExact([true], [true, false]), isMetricError);
  assert.throws(() => mcnemarExact([], []), isMetricError);
});

test("mcnemarExact: large n against exact big-integer sums and scipy", () => {
  // Exact reference: 2 Σ_{i ≤ k} C(n, i) / 2^n in BigInt, scaled by 10^80 before the division.
  const exact = (k1: number, k2: number): number => {
    const n = BigInt(k1 + k2), k = BigInt(Math.min(k1, k2));
    let c = 1n, s = 1n;
    for (let i = 1n; i <= k; i++) (c = (c * (n - i + 1n)) / i), (s += c);
    const scale = 10n ** 80n;
    return Math.min(1, Number((2n * s * scale) / (1n << n)) / 1e80);
  };
  for (const [k1, k2] of [[1000, 1200], [1700, 2300], [480, 520], [2999, 3001], [10, 3000]] as const)
    rel(binomialTwoSidedHalf(k1, k2), exact(k1, k2), 1e-11, `${k1} vs ${k2}`);
  // scipy.stats.binomtest(1000, 2200, 0.5).pvalue = 2.1817026407914194e-05,
  // scipy.stats.binomtest(1700, 4000, 0.5).pvalue = 2.3400950557653187e-21
  rel(binomialTwoSidedHalf(1000, 1200), 2.1817026407914194e-5, 1e-11);
  rel(binomialTwoSidedHalf(1700, 2300), 2.3400950557653187e-21, 1e-11);
  // and the normal approximation with continuity correction, z = (|n10 − n01| − 1)/√n = 199/√2200 = 4.243,
  // 2(1 − Φ(z)) = 2.21e-5, is within 2 % of the exact value at this n
  rel(binomialTwoSidedHalf(1000, 1200), 2.21e-5, 0.02);
});

test("cohenKappa: the textbook 2×2 example and the degenerate cases", () => {
  // 50 items: both yes 20, a yes / b no 5, a no / b yes 10, both no 15.
  // p_o = 35/50 = 0.7, p_e = 0.5 · 0.6 + 0.5 · 0.4 = 0.5, κ = (0.7 − 0.5)/(1 − 0.5) = 0.4.
  const a = [...Array(25).fill(true), ...Array(25).fill(false)];
  const b = [...Array(20).fill(true), ...Array(5).fill(false), ...Array(10).fill(true), ...Array(15).fill(false)];
  close(cohenKappa(a, b), 0.4, 1e-12);
  close(cohenKappa(b, a), 0.4, 1e-12);
  assert.equal(cohenKappa([true, false, true], [true, false, true]), 1);
  close(cohenKappa([true, false, true, false], [false, true, false, true]), -1, 1e-15);
  // both raters constant and equal: defined as 1; constant and different: κ = 0 by the formula
  assert.equal(cohenKappa([true, true], [true, true]), 1);
  assert.equal(cohenKappa([false, false], [false, false]), 1);
  assert.equal(cohenKappa([true, true], [false, false]), 0);
  // one rater constant: p_o = p_a, p_e = p_a, κ = 0
  close(cohenKappa([true, true, true, true], [true, false, true, true]), 0, 1e-15);
  assert.throws(() => cohenKappa([true], []), isMetricError);
  assert.throws(() => cohenKappa([], []), isMetricError);
});

test("spearman: mid-ranks for ties, against hand-worked and scipy values", () => {
  assert.deepEqual(midRanks([10, 20, 20, 30]), [1, 2.5, 2.5, 4]);
  assert.deepEqual(midRanks([5, 5, 5]), [2, 2, 2]);
  // x ranks [1, 2.5, 2.5, 4], y ranks [1, 3, 2, 4]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5, ρ = 4.5/sqrt(22.5) = 3/√10
  close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 3 / Math.sqrt(10), 1e-15);
  // scipy.stats.spearmanr([3,1,4,1,5,9,2,6,5,3], [2,7,1,8,2,8,1,8,2,8]).statistic = 0.13471506281091267 (ties in both)
  close(spearman([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8]), 0.13471506281091267, 1e-14);
  // rank-based: invariant under monotone maps; reversed order gives −1
  const x = [0.3, 1.7, -2, 5, 4.1];
  assert.equal(spearman(x, x.map((v) => Math.exp(v))), 1);
  close(spearman(x, x.map((v) => -(v ** 3))), -1, 1e-15);
  assert.throws(() => spearman([1, 1, 1], [1, 2, 3]), /x is constant/);
  assert.throws(() => spearman([1, 2], [1]), isMetricError);
  assert.throws(() => spearman([1], [1]), isMetricError);
  assert.throws(() => spearman([1, NaN], [1, 2]), isMetricError);
});

test("scoreBands: half-open bands, the last one closed at 1", () => {
  assert.deepEqual(scoreBands([0, 0.29, 0.3, 0.49, 0.5, 1]), [2 / 6, 2 / 6, 2 / 6]);
  assert.deepEqual(scoreBands([0, 0.29, 0.3, 0.49, 0.5, 1], [0.5]), [4 / 6, 2 / 6]);
  assert.deepEqual(scoreBands([0.1, 0.2], []), [1]);
  assert.deepEqual(scoreBands([0.95, 1, 0.2, 0.8], [0.25, 0.5, 0.75]), [0.25, 0, 0, 0.75]);
  assert.throws(() => scoreBands([]), isMetricError);
  assert.throws(() => scoreBands([1.2]), /outside \[0, 1\]/);
  assert.throws(() => scoreBands([0.2], [0.5, 0.3]), /increase strictly/);
  assert.throws(() => scoreBands([0.2], [0, 0.5]), isMetricError);
});

test("Student t: quantiles against tables/scipy, the CDF, and the interval", () => {
  // scipy.stats.t.ppf(p, df)
  const table: [number, number, number][] = [
    [0.975, 1, 12.706204736174694], [0.975, 2, 4.302652729749462], [0.975, 4, 2.7764451051977934],
    [0.975, 10, 2.228138851986274], [0.95, 10, 1.8124611228116756], [0.995, 30, 2.7499956535672254],
    [0.975, 1000, 1.9623390808264083], [0.9995, 3, 12.923978636687961], [0.6, 5, 0.2671808657041451],
  ];
  for (const [p, df, t] of table) {
    rel(tQuantile(p, df), t, 1e-10, `t_{${p},${df}}`);
    rel(tQuantile(1 - p, df), -t, 1e-10, `t_{${1 - p},${df}}`);
  }
  // the printed tables: t_{0.975,4} = 2.776, t_{0.975,2} = 4.303
  assert.equal(tQuantile(0.975, 4).toFixed(3), "2.776");
  assert.equal(tQuantile(0.975, 2).toFixed(3), "4.303");
  assert.equal(tQuantile(0.5, 3), 0);
  // df = 1 is the Cauchy: F(t) = ½ + atan(t)/π; scipy.stats.t.cdf(2, 3) = 0.9303370157205785, t.cdf(−1.5, 7) = 0.088649243494985
  close(studentTCdf(0.7, 1), 0.5 + Math.atan(0.7) / Math.PI, 1e-14);
  close(studentTCdf(2, 3), 0.9303370157205785, 1e-13);
  close(studentTCdf(-1.5, 7), 0.088649243494985, 1e-13);
  // [1..5]: mean 3, std sqrt(2.5), half = 2.7764 · sqrt(2.5)/√5; scipy.stats.t.interval(0.95, 4, 3, sem) = (1.0367568385224428, 4.963243161477557)
  const r = tInterval([1, 2, 3, 4, 5]);
  close(r.mean, 3, 1e-15);
  close(r.std, Math.sqrt(2.5), 1e-15);
  close(r.lo, 1.0367568385224428, 1e-10);
  close(r.hi, 4.963243161477557, 1e-10);
  // three seeds of SFT's toxicity %: scipy gives (2.0300257583166896, 61.303307575016646)
  const s = tInterval([37, 18, 40]);
  close(s.lo, 2.0300257583166896, 1e-9);
  close(s.hi, 61.303307575016646, 1e-9);
  assert.throws(() => tInterval([1]), /at least 2 values/);
  assert.throws(() => tInterval([1, 2], 1.5), isMetricError);
  assert.throws(() => tQuantile(1, 3), isMetricError);
});

test("tInterval covers the mean of normal samples of 5 at the nominal rate (a 1.96 interval would not)", () => {
  const rng = makeRng(11);
  const trials = 4000;
  let covered = 0, coveredZ = 0;
  for (let t = 0; t < trials; t++) {
    const xs = Array.from({ length: 5 }, () => 10 + 3 * rng.normal());
    const r = tInterval(xs);
    if (r.lo <= 10 && 10 <= r.hi) covered++;
    const hz = (1.96 * r.std) / Math.sqrt(5);
    if (r.mean - hz <= 10 && 10 <= r.mean + hz) coveredZ++;
  }
  // binomial SE of the coverage at 0.95 over 4000 trials: sqrt(0.95 · 0.05 / 4000) = 0.0034; 3.5 SE
  close(covered / trials, 0.95, 0.012, "t coverage");
  // the normal quantile undercovers with 4 degrees of freedom (≈ 0.88)
  assert.ok(coveredZ / trials < 0.91, `z coverage ${coveredZ / trials}`);
});
