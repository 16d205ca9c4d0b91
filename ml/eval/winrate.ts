// Generation quality as pairwise win rates (METHOD.md §6): for the same prompts, a judge LM scores
// each method's continuation by its LENGTH-NORMALISED log-likelihood given the prompt,
//   s(m, p) = log p_judge(continuation_m(p) | p) / #tokens(continuation_m(p)),
// and method i beats j on prompt p when s(i, p) > s(j, p); equal scores count ½ to each. The matrix
//   W[i][j] = (wins_ij + ½ ties_ij) / #prompts   satisfies W[i][j] + W[j][i] = 1, W[i][i] = ½.
// An empty continuation has no tokens and no defined per-token score: it scores −∞ (it loses to any
// non-empty continuation and ties with another empty one) — a method that says nothing is not "fluent".

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

/** The win-rate matrix from a (methods × prompts) score table. Pure; exported for tests and reuse. */
export function winRateMatrix(scores: readonly (readonly number[])[]): number[][] {
  const m = scores.length;
  const n = scores[0]?.length ?? 0;
  if (n === 0) throw new EvalTaskError("winrate", "needs at least one prompt");
  return Array.from({ length: m }, (_, i) =>
    Array.from({ length: m }, (_, j) => {
      let w = 0;
      for (let p = 0; p < n; p++) {
        const a = scores[i][p];
        const b = scores[j][p];
        w += a > b ? 1 : a === b ? 0.5 : 0; // −∞ = −∞ is a tie, as intended
      }
      return w / n;
    }),
  );
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
  return { methods: names, matrix: winRateMatrix(scores), meanScore };
}
