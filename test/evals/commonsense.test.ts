import { test } from "node:test";
import assert from "node:assert/strict";
import { arcTask, evaluateCommonsense, piqaTask, winograndeRequests } from "../../ml/eval/commonsense.ts";
import { evaluateMultipleChoice } from "../../ml/eval/multipleChoice.ts";
import { EvalTaskError } from "../../ml/eval/batch.ts";
import { FakeLM } from "./fakeLm.ts";

const piqa = { goal: "Dry wet shoes", sol1: "Stuff them with newspaper.", sol2: "Put them in the freezer.", label: 0 };
const arc = {
  question: "Which is a mammal?",
  choices: [
    { label: "A", text: "shark" },
    { label: "B", text: "whale" },
    { label: "C", text: "trout" },
  ],
  answerKey: "B",
};
const wino = { sentence: "The trophy did not fit in the case because the _ was too big.", option1: "trophy", option2: "case", answer: 1 };

test("PIQA, ARC and WinoGrande requests follow lm-evaluation-harness's formats exactly", () => {
  assert.deepEqual(piqaTask([piqa]).requests(piqa, 0), [
    { context: "Question: Dry wet shoes\nAnswer:", continuation: " Stuff them with newspaper." },
    { context: "Question: Dry wet shoes\nAnswer:", continuation: " Put them in the freezer." },
  ]);
  const t = arcTask("arc_easy", [arc]);
  assert.deepEqual(t.requests(arc, 0).map((r) => r.continuation), [" shark", " whale", " trout"]);
  assert.equal(t.requests(arc, 0)[0].context, "Question: Which is a mammal?\nAnswer:");
  assert.equal(t.gold(arc), 1);
  // partial scoring: option-filled prefix as context, the same rest-of-sentence as continuation
  assert.deepEqual(winograndeRequests(wino), [
    { context: "The trophy did not fit in the case because the trophy", continuation: " was too big." },
    { context: "The trophy did not fit in the case because the case", continuation: " was too big." },
  ]);
});

test("acc picks the highest log-likelihood, acc_norm the highest per character", async () => {
  // PIQA continuations have 27 and 25 characters. ll(sol1) = −5.4 → −0.2 per char;
  // ll(sol2) = −5.2 → −0.208 per char. acc picks sol2 (higher total), acc_norm picks sol1.
  const lm = new FakeLM((r) => (r.continuation.startsWith(" Stuff") ? -5.4 : -5.2));
  const r = await evaluateMultipleChoice(lm, piqaTask([piqa]));
  assert.equal(r.items[0].pred, 1);
  assert.equal(r.items[0].predNorm, 0);
  assert.equal(r.acc, 0);
  assert.equal(r.acc_norm, 1);
});

test("commonsense averages acc and acc_norm over the tasks present", async () => {
  // The model likes "whale", "case" contexts and sol2: ARC right, WinoGrande wrong (gold option1), PIQA wrong.
  const lm = new FakeLM((r) =>
    r.continuation === " whale" || r.context.endsWith("the case") || r.continuation.startsWith(" Put") ? -1 : -2,
  );
  const res = await evaluateCommonsense(lm, { piqa: [piqa, { ...piqa, label: 1 }], arcEasy: [arc], winogrande: [wino] });
  assert.deepEqual(Object.keys(res.tasks), ["piqa", "arc_easy", "winogrande"]);
  assert.equal(res.tasks.piqa.acc, 0.5);
  assert.equal(res.tasks.arc_easy.acc, 1);
  assert.equal(res.tasks.winogrande.acc, 0);
  assert.equal(res.tasks.winogrande.acc_norm, 0); // same continuation → acc_norm = acc
  assert.equal(res.commonsense, (0.5 + 1 + 0) / 3);
  // WinoGrande answers read from jsonl are strings: "2" selects option2
  const res2 = await evaluateCommonsense(lm, { winogrande: [{ ...wino, answer: "2" }] });
  assert.equal(res2.tasks.winogrande.acc, 1);
});

test("bad items are typed errors naming the task", async () => {
  const lm = new FakeLM(() => 0);
  await assert.rejects(evaluateMultipleChoice(lm, arcTask("arc_challenge", [{ ...arc, answerKey: "E" }])), (e: unknown) =>
    e instanceof EvalTaskError && /arc_challenge/.test(e.message) && /gold index -1/.test(e.message));
  assert.throws(() => winograndeRequests({ ...wino, sentence: "no blank" }), /no "_" blank/);
  await assert.rejects(evaluateCommonsense(lm, {}), /no task has items/);
});
