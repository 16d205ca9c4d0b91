import { test } from "node:test";
import assert from "node:assert/strict";
import { mixCorpora, regularisedExamples } from "../../data/mix.ts";

const words = (s: string) => s.split(" ").filter((w) => w !== "").length;
// toxic: 300 short texts (3-7 words); general: 120 long texts (20-40 words)
const toxic = Array.from({ length: 300 }, (_, i) => `t${i} ` + "bad ".repeat(2 + (i % 5)).trim());
const general = Array.from({ length: 120 }, (_, i) => `g${i} ` + "word ".repeat(19 + (i % 21)).trim());
const maxLen = Math.max(...[...toxic, ...general].map(words));

test("default mix is equal by tokens (within one example), every example tagged with its source domain", () => {
  const m = mixCorpora(toxic, general, { countTokens: words, seed: 1 });
  assert.ok(Math.abs(m.tokens.toxic - m.tokens.general) <= maxLen, JSON.stringify(m.tokens));
  const sum = (d: string) => m.examples.filter((e) => e.domain === d).reduce((a, e) => a + words(e.text), 0);
  assert.equal(sum("toxic"), m.tokens.toxic);
  assert.equal(sum("general"), m.tokens.general);
  const [ts, gs] = [new Set(toxic), new Set(general)];
  assert.ok(m.examples.every((e) => (e.domain === "toxic" ? ts.has(e.text) : gs.has(e.text))));
  assert.equal(new Set(m.examples.map((e) => e.text)).size, m.examples.length, "no example twice");
  // the scarcer side (toxic: 300 × 5 = 1,500 tokens < general 3,480) is used up
  assert.equal(m.unused.toxic, 0);
  // interleaved, not two blocks
  const firstHalf = m.examples.slice(0, m.examples.length / 2);
  assert.ok(firstHalf.some((e) => e.domain === "toxic") && firstHalf.some((e) => e.domain === "general"));
});

test("toxicShare sets the token proportion; 0 and 1 give a single domain; maxTokens caps the total", () => {
  const q = mixCorpora(toxic, general, { countTokens: words, seed: 1, toxicShare: 0.25 });
  const share = q.tokens.toxic / (q.tokens.toxic + q.tokens.general);
  assert.ok(Math.abs(share - 0.25) < 0.02, `share ${share}`);
  assert.ok(mixCorpora(toxic, general, { countTokens: words, seed: 1, toxicShare: 0 }).examples.every((e) => e.domain === "general"));
  assert.ok(mixCorpora(toxic, general, { countTokens: words, seed: 1, toxicShare: 1 }).examples.every((e) => e.domain === "toxic"));
  const c = mixCorpora(toxic, general, { countTokens: words, seed: 1, maxTokens: 600 });
  assert.ok(c.tokens.toxic + c.tokens.general <= 600 + 2 * maxLen);
  assert.ok(Math.abs(c.tokens.toxic - 300) <= maxLen && Math.abs(c.tokens.general - 300) <= maxLen);
});

test("deterministic for a seed, different for another; regularised subset is the toxic part when adaptive", () => {
  const a = mixCorpora(toxic, general, { countTokens: words, seed: "s" });
  assert.deepEqual(mixCorpora(toxic, general, { countTokens: words, seed: "s" }), a);
  assert.notDeepEqual(mixCorpora(toxic, general, { countTokens: words, seed: "t" }).examples, a.examples);
  assert.ok(regularisedExamples(a, true).every((e) => e.domain === "toxic"));
  assert.equal(regularisedExamples(a, true).length, a.examples.filter((e) => e.domain === "toxic").length);
  assert.equal(regularisedExamples(a, false).length, a.examples.length);
});

test("bad options are InvalidDataOption", () => {
  const bad = (o: object, re: RegExp) =>
    assert.throws(() => mixCorpora(toxic, general, { countTokens: words, seed: 1, ...o }), (e: { _tag: string; message: string }) => e._tag === "InvalidDataOption" && re.test(e.message));
  bad({ toxicShare: 1.5 }, /toxicShare/);
  bad({ toxicShare: Number.NaN }, /toxicShare/);
  bad({ maxTokens: 0 }, /maxTokens/);
  assert.throws(() => mixCorpora([], general, { countTokens: words, seed: 1 }), (e: { _tag: string }) => e._tag === "InvalidDataOption");
});
