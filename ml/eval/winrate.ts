// Generation quality as pairwise win rates (the paper's judge protocol): for the same prompts, a judge LM scores
// each method's continuation by its LENGTH-NORMALISED log-likelihood given the prompt,
//   s(m, p) = log p_judge(continuation_m(p) | p) / #tokens(continuation_m(p)),
// and method i beats j on prompt p when s(i, p) > s(j, p); equal scores count ½ to each. The matrix
//   W[i][j] = (wins_ij + ½ ties_ij) / #prompts   satisfies W[i][j] + W[j][i] = 1, W[i][i] = ½.
// An empty continuation has no tokens and no defined per-token score: it scores −∞ (it loses to any
// non-empty continuation and ties with another empty one) — a method that says nothing is not "fluent".
// Ties are reported, not only folded in as ½: `pairCounts` gives wins and ties per ordered pair, and
// `winRatePairs` the wins, losses, ties and decided share (decided pairs / prompts) per method pair, so
// a win rate near ½ made of ties (identical continuations, both empty) reads apart from one made of
// evenly split decisions.

import { EvalTaskError, scoreRequests, type EvalOptions } from "./batch.ts";
import type { EvalLanguageModel } from "./types.ts";

export interface MethodGenerations {
  readonly method: string;
  /** continuations[k] answers prompts[k]. */
  readonly continuations: readonly string[];
}

export interface WinRateResult {
  readonly methods: readonly string[];
  /** matrix[i][j] = win rate of methods[i] against methods[j]. */
  readonly matrix: readonly (readonly number[])[];
  /** Per method, the mean judge score (per-token log-likelihood) over prompts with non-empty output. */
  readonly meanScore: readonly number[];
  /** wins[i][j] = prompts on which i's score is higher than j's; ties[i][j] = prompts with equal scores. */
  readonly wins: readonly (readonly number[])[];
  readonly ties: readonly (readonly number[])[];
  readonly prompts: number;
}

/** One unordered method pair: `a` against `b` over every prompt. */
export interface WinRatePair {
  readonly a: string;
  readonly b: string;
  /** Prompts where a's continuation scores higher (wins), lower (losses), the same (ties). */
  readonly wins: number;
  readonly losses: number;
  readonly ties: number;
  /** (wins + losses) / prompts: the share of prompts the judge decided. */
  readonly decided: number;
  /** (wins + ½ ties) / prompts = W[a][b]. */
  readonly winRate: number;
}

/** Per-token judge scores, shape (methods, prompts); identical (prompt, continuation) pairs scored once. */
export async function judgeScores(
  judge: EvalLanguageModel,
  prompts: readonly string[],
  gens: readonly MethodGenerations[],
  opts: EvalOptions = {},
): Promise<number[][]> {
  const key = (p: number, c: string) => `${p}\u0000${c}`;
  const unique = new Map<string, { context: string; continuation: string }>();
  for (const g of gens) {
    if (g.continuations.length !== prompts.length)
      throw new EvalTaskError(
        "winrate",
        `method ${g.method} has ${g.continuations.length} continuations for ${prompts.length} prompts`,
      );
    g.continuations.forEach((c, p) => {
      if (c.length > 0) unique.set(key(p, c), { context: prompts[p], continuation: c });
    });
  }
  const reqs = [...unique.values()];
  const res = await scoreRequests(judge, reqs, "winrate", opts);
  const score = new Map<string, number>();
  [...unique.keys()].forEach((k, i) => score.set(k, res[i].tokens > 0 ? res[i].logprob / res[i].tokens : -Infinity));
  return gens.map((g) => g.continuations.map((c, p) => (c.length > 0 ? score.get(key(p, c))! : -Infinity)));
}

/**
 * Wins and ties per ordered pair from a (methods × prompts) score table: wins[i][j] = #{p : s(i,p) > s(j,p)},
 * ties[i][j] = #{p : s(i,p) = s(j,p)} (−∞ = −∞ is a tie: both said nothing). losses[i][j] = wins[j][i].
 */
export function pairCounts(scores: readonly (readonly number[])[]): { wins: number[][]; ties: number[][]; prompts: number } {
  const m = scores.length;
  const n = scores[0]?.length ?? 0;
  if (n === 0) throw new EvalTaskError("winrate", "needs at least one prompt");
  scores.forEach((row, i) => {
    if (row.length !== n) throw new EvalTaskError("winrate", `score row ${i} has ${row.length} prompts, row 0 has ${n}`);
    row.forEach((x, p) => {
      if (Number.isNaN(x)) throw new EvalTaskError("winrate", `score of method ${i} on prompt ${p} is NaN (the judge returned a non-number)`);
    });
  });
  const wins = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  const ties = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++)
      for (let p = 0; p < n; p++) {
        const a = scores[i][p];
        const b = scores[j][p];
        if (a > b) wins[i][j]++;
        else if (a === b) ties[i][j]++;
      }
  return { wins, ties, prompts: n };
}

/** The win-rate matrix W[i][j] = (wins_ij + ½ ties_ij) / #prompts from a (methods × prompts) score table. Pure. */
export function winRateMatrix(scores: readonly (readonly number[])[]): number[][] {
  return matrixOf(pairCounts(scores));
}

const matrixOf = ({ wins, ties, prompts }: ReturnType<typeof pairCounts>): number[][] =>
  wins.map((row, i) => row.map((w, j) => (w + 0.5 * ties[i][j]) / prompts));

/** Every unordered pair i < j (in method order) with its wins, losses, ties and decided share. */
export function winRatePairs(methods: readonly string[], c: { readonly wins: readonly (readonly number[])[]; readonly ties: readonly (readonly number[])[]; readonly prompts: number }): WinRatePair[] {
  const out: WinRatePair[] = [];
  for (let i = 0; i < methods.length; i++)
    for (let j = i + 1; j < methods.length; j++) {
      const wins = c.wins[i][j], losses = c.wins[j][i], ties = c.ties[i][j];
      out.push({ a: methods[i], b: methods[j], wins, losses, ties, decided: (wins + losses) / c.prompts, winRate: (wins + 0.5 * ties) / c.prompts });
    }
  return out;
}

export async function evaluateWinRates(
  judge: EvalLanguageModel,
  prompts: readonly string[],
  gens: readonly MethodGenerations[],
  opts: EvalOptions = {},
): Promise<WinRateResult> {
  if (gens.length < 2) throw new EvalTaskError("winrate", `needs ≥ 2 methods, got ${gens.length}`);
  const names = gens.map((g) => g.method);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new EvalTaskError("winrate", `method name ${dup} appears twice`);
  const scores = await judgeScores(judge, prompts, gens, opts);
  const meanScore = scores.map((row) => {
    const fin = row.filter(Number.isFinite);
    return fin.length ? fin.reduce((s, x) => s + x, 0) / fin.length : -Infinity;
  });
  const counts = pairCounts(scores);
  return { methods: names, matrix: matrixOf(counts), meanScore, ...counts };
}
