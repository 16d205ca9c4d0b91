import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateMmlu, mmluPrompt, mmluTask } from "../../ml/eval/mmlu.ts";
import { EvalTaskError } from "../../ml/eval/batch.ts";
import type { MmluItem } from "../../ml/eval/types.ts";
import { FakeLM } from "./fakeLm.ts";

const q = (subject: string, n: number, answer: number): MmluItem => ({
  subject,
  question: `${subject} question ${n}?`,
  choices: [`a${n}`, `b${n}`, `c${n}`, `d${n}`],
  answer,
});

test("MMLU prompt equals the original Hendrycks et al. format, byte for byte", () => {
  const dev = [q("high_school_physics", 1, 2), q("high_school_physics", 2, 0)];
  const p = mmluPrompt("high_school_physics", dev, 2, q("high_school_physics", 9, 3));
  // Written out by hand from evaluate.py's gen_prompt/format_example (note the double space after
  // "about", which comes from format_subject's leading space).
  const expected =
    "The following are multiple choice questions (with answers) about  high school physics.\n\n" +
    "high_school_physics question 1?\nA. a1\nB. b1\nC. c1\nD. d1\nAnswer: C\n\n" +
    "high_school_physics question 2?\nA. a2\nB. b2\nC. c2\nD. d2\nAnswer: A\n\n" +
    "high_school_physics question 9?\nA. a9\nB. b9\nC. c9\nD. d9\nAnswer:";
  assert.equal(p, expected);
});

test("MMLU scores the letters ' A'..' D' after the 5-shot prompt and picks the most likely", async () => {
  const dev = [0, 1, 2, 3, 4, 5].map((i) => q("anatomy", 100 + i, i % 4));
  const test1 = q("anatomy", 1, 1);
  // The model prefers the letter named by the last digit of the question number mod 4.
  const lm = new FakeLM((r) => {
    if (r.context.endsWith("?\nAnswer:")) return -5; // the cloze requests: no preference (argmax → A)
    const n = Number(/question (\d+)\?\nA\. a\d+\nB\. b\d+\nC\. c\d+\nD\. d\d+\nAnswer:$/.exec(r.context)![1]);
    return r.continuation === ` ${"ABCD"[n % 4]}` ? -0.1 : -3;
  });
  const res = await evaluateMmlu(lm, [test1, q("anatomy", 2, 0)], dev);
  // item 1: prefers "B" (1 mod 4), gold B → right; item 2: prefers "C" (2 mod 4), gold A → wrong
  assert.equal(res.mmlu_mcf, 0.5);
  // cloze: every choice equally likely → A both times, right for item 2 only: a tie goes to MCF
  assert.equal(res.mmlu_cf, 0.5);
  assert.equal(res.mmlu, 0.5);
  assert.equal(res.formulation, "mcf");
  assert.deepEqual(
    lm.scored.slice(0, 4).map((r) => r.continuation),
    [" A", " B", " C", " D"],
  );
  // exactly 5 shots: the prompt holds dev items 100..104, not 105
  assert.ok(lm.scored[0].context.includes("question 104?") && !lm.scored[0].context.includes("question 105?"));
  assert.equal((lm.scored[0].context.match(/Answer: [ABCD]\n\n/g) ?? []).length, 5);
});

test("MMLU accuracy is averaged over subjects (macro); the pooled figure is mmlu_micro", async () => {
  const dev = ["s1", "s2"].flatMap((s) => [0, 1, 2, 3, 4].map((i) => q(s, 100 + i, 0)));
  // s1: 3 items all answered right; s2: 1 item answered wrong → macro (1 + 0)/2, micro 3/4.
  const items = [q("s1", 1, 1), q("s1", 2, 1), q("s1", 3, 1), q("s2", 4, 1)];
  const lm = new FakeLM((r) => {
    const right = r.context.includes("about  s1.") ? " B" : " D";
    return r.continuation === right ? 0 : -1;
  });
  const res = await evaluateMmlu(lm, items, dev);
  assert.equal(res.mmlu, 0.5);
  assert.equal(res.mmlu_micro, 0.75);
  assert.deepEqual(res.bySubject, { s1: { n: 3, acc: 1 }, s2: { n: 1, acc: 0 } });
});

test("MMLU drops shots one at a time until the prompt fits, like the original's crop loop", async () => {
  const dev = [0, 1, 2, 3, 4].map((i) => q("law", 100 + i, 0));
  const item = q("law", 1, 0);
  const fits = (p: string) => p.length <= mmluPrompt("law", dev, 2, item).length;
  const used = new Map<number, number>();
  const reqs = mmluTask([item], dev, { fits }, used).requests(item, 0);
  assert.equal(reqs[0].context, mmluPrompt("law", dev, 2, item));
  assert.equal(used.get(0), 2);
  // evaluateMmlu reports the mean number of shots kept: here 2 of 5 for one item, 5 of 5 for another.
  const long = q("law", 2, 0);
  const lm = new FakeLM(() => 0);
  const fitsOne = (p: string) => !p.includes(item.question) || p.length <= mmluPrompt("law", dev, 2, item).length;
  const res = await evaluateMmlu(lm, [item, long], dev, { fits: fitsOne });
  assert.equal(res.meanShots, 3.5);
});

test("MMLU without enough dev examples for a subject is a typed error naming the subject", async () => {
  const lm = new FakeLM(() => 0);
  await assert.rejects(evaluateMmlu(lm, [q("virology", 1, 0)], [q("virology", 2, 0)]), (e: unknown) => {
    return e instanceof EvalTaskError && /virology/.test(e.message) && /1 dev examples; 5-shot/.test(e.message);
  });
});

test("MMLU accepts the CSV's letter answers as well as indices", async () => {
  const asLetter = (it: MmluItem): MmluItem => ({ ...it, answer: (["A", "B", "C", "D"] as const)[it.answer as number] });
  const dev = [0, 1, 2, 3, 4].map((i) => q("law", 100 + i, i % 4));
  const items = [q("law", 1, 3), q("law", 2, 1)];
  const lm = new FakeLM((r) => (r.continuation === " D" ? 0 : -1));
  const a = await evaluateMmlu(lm, items, dev);
  const b = await evaluateMmlu(lm, items.map(asLetter), dev.map(asLetter));
  assert.deepEqual(a, b);
  assert.equal(a.mmlu, 0.5);
  assert.equal(mmluPrompt("law", dev.map(asLetter), 5, items[0]), mmluPrompt("law", dev, 5, items[0]));
  await assert.rejects(evaluateMmlu(lm, items, dev.map((d) => ({ ...d, answer: 7 }))), /has answer 7; expected A–D/);
});

test("MMLU cloze prompt: the same header, 'Question: …\\nAnswer: <answer text>' shots, byte for byte", () => {
  const dev = [q("world_history", 1, 2), q("world_history", 2, 0)];
  const p = mmluPrompt("world_history", dev, 2, q("world_history", 9, 3), "cf");
  const expected =
    "The following are multiple choice questions (with answers) about  world history.\n\n" +
    "Question: world_history question 1?\nAnswer: c1\n\n" +
    "Question: world_history question 2?\nAnswer: a2\n\n" +
    "Question: world_history question 9?\nAnswer:";
  assert.equal(p, expected);
  const reqs = mmluTask([q("world_history", 9, 3)], [...dev, ...[3, 4, 5].map((i) => q("world_history", i, 0))], {}, new Map(), "cf").requests(q("world_history", 9, 3), 0);
  assert.deepEqual(reqs.map((r) => r.continuation), [" a9", " b9", " c9", " d9"]);
});

test("MMLU cloze scores answer texts per character, and mmlu is the better formulation (OLMES's rule)", async () => {
  const dev = [0, 1, 2, 3, 4].map((i) => q("geo", 100 + i, 0));
  // Choices of unequal length: the right one (index 2) is long and has the lowest total log-prob,
  // but the highest per character: -4/13 > -1/3 (" a1" etc. are 3 characters).
  const item: MmluItem = { subject: "geo", question: "geo question 1?", choices: ["a1", "b1", "the long one", "d1"], answer: 2 };
  const lm = new FakeLM((r) => {
    if (r.context.endsWith("D. d1\nAnswer:")) return r.continuation === " A" ? 0 : -1; // MCF: always A (wrong)
    return r.continuation === " the long one" ? -4 : -1;
  });
  const res = await evaluateMmlu(lm, [item], dev);
  assert.equal(res.mmlu_mcf, 0);
  assert.equal(res.mmlu_cf, 1);
  assert.equal(res.mmlu, 1);
  assert.equal(res.formulation, "cf");
  assert.deepEqual(res.bySubject, { geo: { n: 1, acc: 1 } });
  assert.equal(res.meanShotsCf, 5);
});
