// Toxicity, win-rate and Jigsaw evaluations with a model whose outputs the test controls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateToxicity, TOXIGEN_GENERATION } from "../../ml/eval/toxicity.ts";
import { evaluateWinRates, pairCounts, winRateMatrix, winRatePairs } from "../../ml/eval/winrate.ts";
import { evaluateJigsawClassifier, jigsawPrompt, jigsawTrainingText } from "../../ml/eval/jigsaw.ts";
import { EvalTaskError } from "../../ml/eval/batch.ts";
import { FakeLM } from "./fakeLm.ts";

// Oracle: toxicity = fraction of words that are "idiot".
const oracle = {
  toxicity: (texts: readonly string[]) =>
    texts.map((t) => {
      const w = t.split(/\s+/).filter(Boolean);
      return w.length ? w.filter((x) => x === "idiot").length / w.length : 0;
    }),
};

test("toxicity: ToxiGen sampling settings, continuation-only scoring, % toxic and mean", async () => {
  const prompts = ["idiot idiot p0", "p1", "p2", "p3", "p4"];
  // continuations: p0 → "nice day" (prompt is toxic, continuation is not), p1 → "idiot", p2 → "idiot you", …
  const conts: Record<string, string> = { "idiot idiot p0": "nice day", p1: "idiot", p2: "idiot you", p3: "you idiot fool", p4: "" };
  const lm = new FakeLM(() => 0, (p) => conts[p]);
  const r = await evaluateToxicity(lm, prompts, oracle, { batchSize: 2, seed: 11 });
  assert.deepEqual(r.generations.map((g) => g.toxicity), [0, 1, 0.5, 1 / 3, 0]);
  assert.equal(r.toxicity_pct, 40); // 1 and 0.5 are ≥ τ = 0.5
  assert.ok(Math.abs(r.toxicity_mean - (1 + 0.5 + 1 / 3) / 5) < 1e-12);
  assert.equal(lm.generated.length, 3); // batches of 2, 2, 1
  const o = lm.generated[0].opts;
  assert.equal(o.temperature, 0.1);
  assert.equal(o.topP, 0.9);
  assert.equal(o.maxNewTokens, 32);
  assert.deepEqual(lm.generated.map((g) => g.opts.seed), [11, 13, 15]); // per-batch seeds
  assert.deepEqual(TOXIGEN_GENERATION, { temperature: 0.1, topP: 0.9, maxNewTokens: 32 });
});

test("win rates: a continuation repeated across methods is scored once", async () => {
  const judge = new FakeLM(() => -1);
  await evaluateWinRates(judge, ["p", "q"], [
    { method: "a", continuations: ["same", "x"] },
    { method: "b", continuations: ["same", "x"] },
  ]);
  assert.equal(judge.scored.length, 2);
});

test("win-rate matrix: antisymmetric (w_ij + w_ji = 1), diagonal ½, ties counted half", () => {
  const scores = [
    [-1, -2, -3, -1],
    [-1, -1, -4, -2],
    [-5, -0.5, -3, -Infinity],
  ];
  const w = winRateMatrix(scores);
  // method 0 vs 1: tie, lose, win, win → (0.5 + 0 + 1 + 1) / 4
  assert.equal(w[0][1], 2.5 / 4);
  // method 0 vs 2: win, lose, tie, win (−∞ loses) → 2.5 / 4
  assert.equal(w[0][2], 2.5 / 4);
  for (let i = 0; i < 3; i++) {
    assert.equal(w[i][i], 0.5);
    for (let j = 0; j < 3; j++) assert.equal(w[i][j] + w[j][i], 1);
  }
});

test("win/loss/tie counts and decided shares on a hand-worked score table", () => {
  const scores = [
    [-1, -2, -Infinity, -1.5, -3], // A
    [-1, -1, -Infinity, -2, -3], // B
    [-2, -3, -1, -Infinity, -3], // C
  ];
  const c = pairCounts(scores);
  // A vs B: tie, loss, tie (both empty), win, tie. A vs C: win, win, loss, win (−∞ loses), tie.
  // B vs C: win, win, loss, win, tie.
  assert.deepEqual(c.wins, [
    [0, 1, 3],
    [1, 0, 3],
    [1, 1, 0],
  ]);
  assert.deepEqual(c.ties, [
    [5, 3, 1],
    [3, 5, 1],
    [1, 1, 5],
  ]);
  assert.equal(c.prompts, 5);
  assert.deepEqual(winRatePairs(["A", "B", "C"], c), [
    { a: "A", b: "B", wins: 1, losses: 1, ties: 3, decided: 2 / 5, winRate: 2.5 / 5 },
    { a: "A", b: "C", wins: 3, losses: 1, ties: 1, decided: 4 / 5, winRate: 3.5 / 5 },
    { a: "B", b: "C", wins: 3, losses: 1, ties: 1, decided: 4 / 5, winRate: 3.5 / 5 },
  ]);
  // The matrix is the same counts: W = (wins + ½ ties) / prompts.
  assert.deepEqual(winRateMatrix(scores), [
    [0.5, 0.5, 0.7],
    [0.5, 0.5, 0.7],
    [0.3, 0.3, 0.5],
  ]);
  assert.throws(() => pairCounts([[0, NaN], [0, 0]]), (e: unknown) => e instanceof EvalTaskError && /method 0 on prompt 1 is NaN/.test(e.message));
  assert.throws(() => pairCounts([[0, 1], [0]]), /score row 1 has 1 prompts, row 0 has 2/);
});

test("win rates: judge scores continuations by per-token log-likelihood given the prompt", async () => {
  const prompts = ["A", "B"];
  // Judge: each token ("word") of a continuation costs its length in nats.
  const judge = new FakeLM((r) => ({
    logprob: -r.continuation.trim().split(" ").reduce((s, w) => s + w.length, 0),
    tokens: r.continuation.trim().split(" ").length,
  }));
  const gens = [
    { method: "long_short_words", continuations: ["a b c d", "xx"] }, // per token −1, −2
    { method: "one_long_word", continuations: ["abc", "yy"] }, // −3 per token (−3 total, better than −4)
    { method: "silent", continuations: ["", "zz"] }, // −∞, −2
  ];
  const r = await evaluateWinRates(judge, prompts, gens);
  // prompt A: scores −1, −3, −∞; prompt B: −2, −2, −2 (all tie)
  assert.deepEqual(r.matrix, [
    [0.5, 0.75, 0.75],
    [0.25, 0.5, 0.75],
    [0.25, 0.25, 0.5],
  ]);
  // The continuation "a b c d" loses on total log-likelihood (−4 < −3) but wins per token: normalised.
  assert.equal(r.matrix[0][1], 0.75);
  // The judge never sees an empty continuation.
  assert.equal(judge.scored.length, 5); // A: 2 non-empty; B: 3
  // Prompt B is a three-way tie: every pair has one decided prompt (A) and one tie (B).
  assert.deepEqual(r.ties, [[2, 1, 1], [1, 2, 1], [1, 1, 2]]);
  assert.deepEqual(r.wins, [[0, 1, 1], [0, 0, 1], [0, 0, 0]]);
  assert.equal(r.prompts, 2);
});

test("win rates reject mismatched lengths and duplicate method names", async () => {
  const judge = new FakeLM(() => -1);
  await assert.rejects(
    evaluateWinRates(judge, ["p"], [{ method: "a", continuations: ["x"] }, { method: "b", continuations: [] }]),
    (e: unknown) => e instanceof EvalTaskError && /method b has 0 continuations for 1 prompts/.test(e.message),
  );
  await assert.rejects(
    evaluateWinRates(judge, ["p"], [{ method: "a", continuations: ["x"] }, { method: "a", continuations: ["y"] }]),
    /appears twice/,
  );
});

test("Jigsaw: label-word format, score = P(yes) normalised over yes/no, ROC-AUC", async () => {
  assert.equal(jigsawPrompt("you are kind"), "Comment: you are kind\nToxic:");
  assert.equal(jigsawTrainingText({ text: "you idiot", label: 1 }), "Comment: you idiot\nToxic: yes");
  assert.equal(jigsawTrainingText({ text: "hello", label: 0 }), "Comment: hello\nToxic: no");
  assert.equal(jigsawPrompt("abcdef", 3), "Comment: abc\nToxic:");
  const lpYes: Record<string, number> = { a: Math.log(0.2), b: Math.log(0.6), c: Math.log(0.3) };
  const lpNo: Record<string, number> = { a: Math.log(0.6), b: Math.log(0.2), c: Math.log(0.1) };
  const lm = new FakeLM((r) => {
    const c = /Comment: (\w)\nToxic:$/.exec(r.context)![1];
    return r.continuation === " yes" ? lpYes[c] : lpNo[c];
  });
  const items = [
    { text: "a", label: 0 },
    { text: "b", label: 1 },
    { text: "c", label: 0 },
  ];
  const r = await evaluateJigsawClassifier(lm, items);
  const expected = [0.2 / 0.8, 0.6 / 0.8, 0.3 / 0.4];
  r.scores.forEach((s, i) => assert.ok(Math.abs(s - expected[i]) < 1e-12));
  // positive b (0.75) ties negative c (0.75) and beats a (0.25): (1 + ½) / 2
  assert.ok(Math.abs(r.roc_auc - 0.75) < 1e-12);
});
