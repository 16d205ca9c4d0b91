// Statistics that make the study's numbers defensible: intervals over items (percentile bootstrap) and
// over seeds (Student t), the paired exact McNemar test for two methods scored on the same prompts,
// agreement (Cohen's κ), rank correlation (Spearman) and score bands. Pure TS in float64; no tensors,
// no files. Bad input (empty, mismatched lengths, non-finite values, impossible settings) is a
// MetricInputError naming the statistic and what to pass instead.
import { MetricInputError, mean, std } from "./metrics.ts";
import { makeRng } from "./prng.ts";

const finite = (xs: readonly number[], metric: string, what = "value"): void => {
  for (let i = 0; i < xs.length; i++)
    if (!Number.isFinite(xs[i])) throw new MetricInputError(metric, `${what} ${xs[i]} at index ${i} is not finite`);
};
const nonEmpty = (n: number, metric: string, what: string): void => {
  if (n === 0) throw new MetricInputError(metric, `needs at least one ${what}, got an empty list`);
};
const sameLength = (a: number, b: number, metric: string, names = ["a", "b"]): void => {
  if (a !== b) throw new MetricInputError(metric, `${names[0]} has ${a} entries but ${names[1]} has ${b}; pass one entry per item to both`);
};
const checkLevel = (level: number, metric: string): void => {
  if (!(level > 0 && level < 1)) throw new MetricInputError(metric, `level ${level} must lie strictly between 0 and 1 (e.g. 0.95)`);
};

/**
 * The q-quantile of ascending `sorted` by linear interpolation between order statistics
 * (Hyndman & Fan type 7, the default of R and numpy): h = (n − 1) q, x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]).
 */
export function quantileSorted(sorted: readonly number[], q: number): number {
  nonEmpty(sorted.length, "quantile", "value");
  if (!(q >= 0 && q <= 1)) throw new MetricInputError("quantile", `q ${q} must lie in [0, 1]`);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export interface BootstrapOptions {
  /** Bootstrap resamples B (default 2000). */
  readonly resamples?: number;
  /** Coverage of the interval (default 0.95). */
  readonly level?: number;
  /** Seed of the resampling PRNG (default 1): the same seed gives the same interval. */
  readonly seed?: number;
}

/**
 * Percentile bootstrap interval of `stat` over items: B resamples of n items drawn with replacement
 * (indices ⌊u·n⌋ from ml/prng.ts makeRng(seed)), stat of each, and the (1 − level)/2 and (1 + level)/2
 * quantiles of the B values (type-7 interpolation). Deterministic for a given seed. The Monte Carlo error
 * of an endpoint is about sqrt(q(1 − q)/B) / f(endpoint), f the density of the statistic: for a 95 %
 * interval of a proportion's mean with B = 2000 that is ≈ 0.06 standard errors.
 */
export function bootstrapInterval(
  values: readonly number[],
  stat: (xs: readonly number[]) => number,
  opts: BootstrapOptions = {},
): { lo: number; hi: number } {
  const metric = "bootstrap";
  const { resamples = 2000, level = 0.95, seed = 1 } = opts;
  nonEmpty(values.length, metric, "value");
  finite(values, metric);
  checkLevel(level, metric);
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new MetricInputError(metric, `resamples ${resamples} must be a positive integer (2000 is the default)`);
  const n = values.length;
  const rng = makeRng(seed);
  const buf = new Array<number>(n);
  const stats = new Array<number>(resamples);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) buf[i] = values[Math.floor(rng.next() * n)];
    const s = stat(buf);
    if (Number.isNaN(s)) throw new MetricInputError(metric, `the statistic returned NaN on resample ${b}; it must be defined on every resample of the values`);
    stats[b] = s;
  }
  stats.sort((a, b) => a - b);
  return { lo: quantileSorted(stats, (1 - level) / 2), hi: quantileSorted(stats, (1 + level) / 2) };
}

/**
 * Exact McNemar test for paired binary outcomes (e.g. "toxic" per prompt for two methods on the same
 * prompts): n10 = #(a ∧ ¬b), n01 = #(¬a ∧ b); under H0 the discordant pairs split as X ~ Bin(n10 + n01, ½),
 * and the two-sided p = min(1, 2 P[X ≤ min(n10, n01)]); p = 1 when there are no discordant pairs.
 * The binomial terms are summed in log space (log C(n, i) − n log 2 by the ratio recurrence, then
 * log-sum-exp), so p stays accurate to ~1e-12 relative for n in the thousands, where 2^n overflows.
 */
export function mcnemarExact(a: readonly boolean[], b: readonly boolean[]): { n10: number; n01: number; p: number } {
  const metric = "mcnemar";
  sameLength(a.length, b.length, metric);
  nonEmpty(a.length, metric, "pair");
  let n10 = 0, n01 = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !b[i]) n10++;
    else if (!a[i] && b[i]) n01++;
  }
  return { n10, n01, p: binomialTwoSidedHalf(n10, n01) };
}

/** min(1, 2 P[X ≤ min(k1, k2)]) for X ~ Bin(k1 + k2, ½); 1 when k1 + k2 = 0. */
export function binomialTwoSidedHalf(k1: number, k2: number): number {
  const n = k1 + k2, k = Math.min(k1, k2);
  if (n === 0) return 1;
  // log T_i, T_i = C(n, i) / 2^n, for i = 0..k; the terms increase with i up to n/2, so T_k is the largest.
  const logT = new Array<number>(k + 1);
  logT[0] = -n * Math.LN2;
  for (let i = 1; i <= k; i++) logT[i] = logT[i - 1] + Math.log((n - i + 1) / i);
  const top = logT[k];
  let s = 0;
  for (let i = k; i >= 0; i--) s += Math.exp(logT[i] - top); // smallest terms last: no loss to rounding
  return Math.min(1, 2 * Math.exp(top + Math.log(s)));
}

/**
 * Cohen's κ of two binary raters over the same items: κ = (p_o − p_e) / (1 − p_e), p_o the observed
 * agreement, p_e = p_a p_b + (1 − p_a)(1 − p_b) the agreement expected from the raters' marginals.
 * Degenerate case: when both raters give one and the same label to every item, p_e = p_o = 1 and the
 * ratio is 0/0; we define κ = 1 there (the raters never disagree), where sklearn returns NaN. Both
 * constant with different labels gives p_o = p_e = 0, κ = 0 by the formula.
 */
export function cohenKappa(a: readonly boolean[], b: readonly boolean[]): number {
  const metric = "cohen_kappa";
  sameLength(a.length, b.length, metric);
  nonEmpty(a.length, metric, "item");
  const n = a.length;
  let agree = 0, na = 0, nb = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) agree++;
    if (a[i]) na++;
    if (b[i]) nb++;
  }
  const po = agree / n, pa = na / n, pb = nb / n;
  const pe = pa * pb + (1 - pa) * (1 - pb);
  if (pe === 1) return 1;
  return (po - pe) / (1 - pe);
}

/** Ranks 1..n with ties given their mid-rank (the mean of the ranks they span). */
export function midRanks(xs: readonly number[]): number[] {
  const idx = xs.map((_, i) => i).sort((i, j) => xs[i] - xs[j]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && xs[idx[j]] === xs[idx[i]]) j++;
    const mid = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) r[idx[k]] = mid;
    i = j;
  }
  return r;
}

/**
 * Spearman's ρ: the Pearson correlation of the mid-ranks (exact with ties; the 1 − 6Σd²/(n(n²−1))
 * shortcut is not). Needs ≥ 2 pairs and neither list constant (ρ is 0/0 then).
 */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const metric = "spearman";
  sameLength(x.length, y.length, metric, ["x", "y"]);
  if (x.length < 2) throw new MetricInputError(metric, `needs at least 2 pairs, got ${x.length}`);
  finite(x, metric, "x");
  finite(y, metric, "y");
  const rx = midRanks(x), ry = midRanks(y);
  const m = (x.length + 1) / 2; // mean of ranks, ties or not
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = rx[i] - m, dy = ry[i] - m;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0)
    throw new MetricInputError(metric, `${sxx === 0 ? "x" : "y"} is constant, so the rank correlation is undefined`);
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * Shares of scores in the bands [0, e0), [e0, e1), …, [e_last, 1] (fractions summing to 1; the last
 * band is closed so a score of exactly 1 counts). Scores must lie in [0, 1]; edges strictly increase
 * inside (0, 1). Default edges [0.3, 0.5]: clearly benign, uncertain, toxic at τ = 0.5.
 */
export function scoreBands(scores: readonly number[], edges: readonly number[] = [0.3, 0.5]): number[] {
  const metric = "score_bands";
  nonEmpty(scores.length, metric, "score");
  for (let i = 0; i < edges.length; i++)
    if (!(edges[i] > 0 && edges[i] < 1) || (i > 0 && !(edges[i] > edges[i - 1])))
      throw new MetricInputError(metric, `edges [${edges.join(", ")}] must increase strictly inside (0, 1)`);
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!(s >= 0 && s <= 1)) throw new MetricInputError(metric, `score ${s} at index ${i} is outside [0, 1]`);
    let band = 0;
    while (band < edges.length && s >= edges[band]) band++;
    counts[band]++;
  }
  return counts.map((c) => c / scores.length);
}

// ---------------------------------------------------------------- Student t

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
const betaContinuedFraction = (x: number, a: number, b: number): number => {
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d; h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
};

/** Regularised incomplete beta I_x(a, b), x ∈ [0, 1], a, b > 0. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(x, a, b)) / a : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** Upper tail P[T > t] of Student's t with `df` degrees of freedom, for t ≥ 0: ½ I_{df/(df+t²)}(df/2, ½). */
const tUpperTail = (t: number, df: number): number => 0.5 * regularizedBeta(df / (df + t * t), df / 2, 0.5);

/** CDF of Student's t with `df` > 0 degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new MetricInputError("t_cdf", `degrees of freedom ${df} must be > 0`);
  const tail = tUpperTail(Math.abs(t), df);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom: the t ≥ 0 whose upper tail is
 * min(p, 1 − p), found by bracketing and bisection on the tail (so p near 1 loses no digits), signed.
 * Checked against tabulated values (t_{0.975,4} = 2.7764, t_{0.975,2} = 4.3027, t_{0.975,1} = 12.706).
 */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new MetricInputError("t_quantile", `p ${p} must lie strictly between 0 and 1`);
  if (!(df > 0)) throw new MetricInputError("t_quantile", `degrees of freedom ${df} must be > 0`);
  if (p === 0.5) return 0;
  const q = Math.min(p, 1 - p);
  let lo = 0, hi = 1;
  while (tUpperTail(hi, df) > q) (lo = hi), (hi *= 2);
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tUpperTail(mid, df) > q) lo = mid;
    else hi = mid;
  }
  const t = (lo + hi) / 2;
  return p > 0.5 ? t : -t;
}

/**
 * Student-t interval for the mean of a few independent runs (e.g. one value per seed):
 * mean ± t_{(1+level)/2, n−1} · std / √n, std the sample standard deviation (n − 1). Needs ≥ 2 values:
 * one run gives no spread to build an interval from.
 */
export function tInterval(xs: readonly number[], level = 0.95): { mean: number; std: number; lo: number; hi: number } {
  const metric = "t_interval";
  finite(xs, metric);
  checkLevel(level, metric);
  if (xs.length < 2) throw new MetricInputError(metric, `needs at least 2 values (e.g. 2 seeds) for an interval, got ${xs.length}`);
  const m = mean(xs, metric), s = std(xs);
  const half = (tQuantile((1 + level) / 2, xs.length - 1) * s) / Math.sqrt(xs.length);
  return { mean: m, std: s, lo: m - half, hi: m + half };
}
