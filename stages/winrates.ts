// Stage `winrates`: generation quality (METHOD.md §6) — for the same prompts, every method's
// continuations (from its toxicity evaluation) are judged pairwise by the judge LM, which prefers the
// continuation with the better per-token log-likelihood given the prompt; ties count ½. Writes the
// matrix as table `winrates`: one row per method, one column `vs_<method>` per opponent (win rate of row vs column).
import { Schema } from "effect";
import { defineStage, Output, type Row } from "../engine/Stage.ts";
import { evaluateWinRates } from "../ml/eval/winrate.ts";
import { evalProgress, mlStage, StageInputError } from "./common.ts";
import { ToxicityOutput } from "./evalToxicity.ts";
import { withModel } from "./models.ts";
import { METHODS, type Method } from "./table1.ts";

const inputs = {
  judge: Output.directory(),
  ...(Object.fromEntries(METHODS.map(([m]) => [m, Output.value(ToxicityOutput)])) as { [M in Method]: ReturnType<typeof Output.value<ToxicityOutput, typeof ToxicityOutput.Encoded>> }),
};

export const WinRatesOutput = Schema.Struct({ methods: Schema.Array(Schema.String), matrix: Schema.Array(Schema.Array(Schema.Number)) });

export const winrates = defineStage({
  name: "winrates",
  version: 1,
  description: "pairwise win-rate matrix of the methods' continuations, judged by the judge LM",
  module: import.meta.url,
  params: Schema.Struct({}),
  inputs,
  output: Output.value(WinRatesOutput),
  run: ({ inputs: ins, ctx }) =>
    mlStage(ctx, () =>
      withModel(ins.judge, async (judge) => {
        const gens = METHODS.map(([m, label]) => ({ key: m, method: label, out: ins[m] as ToxicityOutput }));
        const prompts = gens[0].out.prompts;
        for (const g of gens)
          if (g.out.prompts.length !== prompts.length || g.out.prompts.some((p, i) => p !== prompts[i]))
            throw new StageInputError({ stage: "winrates", message: `the toxicity evaluation of ${g.key} used other prompts than ${gens[0].key}; give every evalToxicity instance the same seed and prompts` });
        const r = await evaluateWinRates(judge.lm, prompts, gens.map((g) => ({ method: g.method, continuations: g.out.continuations })), { onProgress: evalProgress(ctx) });
        // Columns are the method keys (SQL identifiers): `vs_<key>` = win rate of the row against that method.
        ctx.table("winrates", r.methods.map((m, i): Row => ({
          method: m, ...Object.fromEntries(gens.map((g, j) => [`vs_${g.key}`, i === j ? null : r.matrix[i][j]])), judge_score: Number.isFinite(r.meanScore[i]) ? r.meanScore[i] : null,
        })));
        return { methods: r.methods, matrix: r.matrix.map((row) => [...row]) };
      })),
});
