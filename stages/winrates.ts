// Stage `winrates`: generation quality — for the same prompts, every method's continuations (from its
// toxicity evaluation) are judged pairwise by the judge LM, which prefers the continuation with the
// better per-token log-likelihood given the prompt; ties count ½ (ml/eval/winrate.ts). Tables:
//   winrates        one row per method, a column `vs_<method>` per opponent (win rate of row vs column),
//                   and `judge_score` (the method's mean per-token judge log-likelihood);
//   winrate_pairs   one row per method pair: wins, losses, ties, decided share (decided / prompts), win rate;
//   winrate_judge   the judge's held-out perplexity and bits per byte beside every judged model's, on the
//                   same held-out text (evalPerplexity), ranked by bits per byte (comparable across
//                   tokenizers): the judge must be the best language model in the study for its
//                   preferences to mean more than a taste for its own kind of text.
import { Schema } from "effect";
import { defineStage, Output, type Row } from "../engine/Stage.ts";
import { evaluateWinRates, winRatePairs } from "../ml/eval/winrate.ts";
import { evalProgress, mlStage, StageInputError } from "./common.ts";
import { PerplexityOutput } from "./evalPerplexity.ts";
import { ToxicityOutput } from "./evalToxicity.ts";
import { withModel } from "./models.ts";
import { METHODS, type Method } from "./table1.ts";

const inputs = {
  judge: Output.directory(),
  /** The judge's held-out perplexity (evalPerplexity on the judge model). */
  judgePpl: Output.value(PerplexityOutput),
  ...(Object.fromEntries(METHODS.map(([m]) => [m, Output.value(ToxicityOutput)])) as { [M in Method]: ReturnType<typeof Output.value<ToxicityOutput, typeof ToxicityOutput.Encoded>> }),
  ...(Object.fromEntries(METHODS.map(([m]) => [`${m}Ppl`, Output.value(PerplexityOutput)])) as { [M in Method as `${M}Ppl`]: ReturnType<typeof Output.value<PerplexityOutput, typeof PerplexityOutput.Encoded>> }),
};

const Matrix = Schema.Array(Schema.Array(Schema.Number));
export const WinRatesOutput = Schema.Struct({
  methods: Schema.Array(Schema.String),
  /** matrix[i][j] = (wins + ½ ties) / prompts of method i against j. */
  matrix: Matrix,
  /** wins[i][j] / ties[i][j]: prompts on which i's continuation scored higher than / the same as j's. */
  wins: Matrix,
  ties: Matrix,
  prompts: Schema.Int,
  /** The judge's and the judged models' held-out bits per byte; `judgeBest`: the judge's is the lowest. */
  judgeBitsPerByte: Schema.Number,
  judgedBitsPerByte: Schema.Array(Schema.Number),
  judgeBest: Schema.Boolean,
});

/** The `winrate_judge` rows: the judge and every judged model, ranked by held-out bits per byte (1 = best). */
export const judgeComparisonRows = (judge: PerplexityOutput, judged: readonly { readonly method: string; readonly ppl: PerplexityOutput }[]): Row[] => {
  const all = [{ model: "Judge", role: "judge", ppl: judge }, ...judged.map((j) => ({ model: j.method, role: "judged", ppl: j.ppl }))];
  const rank = (bpb: number) => 1 + all.filter((x) => x.ppl.bitsPerByte < bpb).length;
  return all.map(({ model, role, ppl }) => ({
    model, role, perplexity: ppl.perplexity, bits_per_byte: ppl.bitsPerByte, nll: ppl.nll, tokens: ppl.tokens, bytes: ppl.bytes, rank: rank(ppl.bitsPerByte),
  }));
};

export const winrates = defineStage({
  name: "winrates",
  version: 2,
  description: "pairwise win rates (with ties and decided shares) of the methods' continuations, judged by the judge LM, and the judge's held-out perplexity beside theirs",
  module: import.meta.url,
  params: Schema.Struct({}),
  inputs,
  output: Output.value(WinRatesOutput),
  run: ({ inputs: ins, ctx }) =>
    mlStage(ctx, () =>
      withModel(ins.judge, async (judge) => {
        const v = ins as unknown as Record<string, unknown>;
        const gens = METHODS.map(([m, label]) => ({ key: m, method: label, out: v[m] as ToxicityOutput, ppl: v[`${m}Ppl`] as PerplexityOutput }));
        const judgePpl = ins.judgePpl as PerplexityOutput;
        for (const g of gens)
          if (g.ppl.bytes !== judgePpl.bytes)
            throw new StageInputError({ stage: "winrates", message: `the perplexity evaluation of ${g.key} scored ${g.ppl.bytes} bytes of held-out text, the judge's ${judgePpl.bytes}; give every evalPerplexity instance the same data and maxChars` });
        const prompts = gens[0].out.prompts;
        for (const g of gens)
          if (g.out.prompts.length !== prompts.length || g.out.prompts.some((p, i) => p !== prompts[i]))
            throw new StageInputError({ stage: "winrates", message: `the toxicity evaluation of ${g.key} used other prompts than ${gens[0].key}; give every evalToxicity instance the same seed and prompts` });
        // The judge scores with its own tokenizer: `judge.lm` takes text and encodes it itself.
        const r = await evaluateWinRates(judge.lm, prompts, gens.map((g) => ({ method: g.method, continuations: g.out.continuations })), { onProgress: evalProgress(ctx) });
        // Columns are the method keys (SQL identifiers): `vs_<key>` = win rate of the row against that method.
        ctx.table("winrates", r.methods.map((m, i): Row => ({
          method: m, ...Object.fromEntries(gens.map((g, j) => [`vs_${g.key}`, i === j ? null : r.matrix[i][j]])), judge_score: Number.isFinite(r.meanScore[i]) ? r.meanScore[i] : null,
        })));
        ctx.table("winrate_pairs", winRatePairs(r.methods, r).map((q): Row => ({
          method_a: q.a, method_b: q.b, wins: q.wins, losses: q.losses, ties: q.ties, prompts: r.prompts, decided: q.decided, win_rate: q.winRate,
        })));
        const rows = judgeComparisonRows(judgePpl, gens.map((g) => ({ method: g.method, ppl: g.ppl })));
        ctx.table("winrate_judge", rows);
        const best = Math.min(...gens.map((g) => g.ppl.bitsPerByte));
        const judgeBest = judgePpl.bitsPerByte < best;
        ctx.metric("judge_bits_per_byte", judgePpl.bitsPerByte);
        ctx.log(`judge: held-out ${judgePpl.bitsPerByte.toFixed(4)} bits/byte (perplexity ${judgePpl.perplexity.toFixed(3)}); best judged model ${best.toFixed(4)} bits/byte`);
        if (!judgeBest)
          ctx.log(`warning: the judge is not the best language model in the study (table winrate_judge); its preferences may reflect its own weaknesses — give it more steps (--set judge.steps=N) or name a stronger checkpoint (--judge-model PATH)`);
        return {
          methods: r.methods, matrix: r.matrix.map((row) => [...row]), wins: r.wins.map((row) => [...row]), ties: r.ties.map((row) => [...row]), prompts: r.prompts,
          judgeBitsPerByte: judgePpl.bitsPerByte, judgedBitsPerByte: gens.map((g) => g.ppl.bitsPerByte), judgeBest,
        };
      })),
});
