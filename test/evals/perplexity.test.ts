import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluatePerplexity, stridedWindows, type TokenScorer } from "../../ml/eval/perplexity.ts";

test("strided windows: hand-worked case (n = 7, context 4, stride 2)", () => {
  assert.deepEqual(stridedWindows(7, 4, 2), [
    { start: 0, end: 4, scoreFrom: 1 }, // targets 1, 2, 3
    { start: 2, end: 6, scoreFrom: 4 }, // targets 4, 5 (contexts of 2 and 3 tokens)
    { start: 4, end: 7, scoreFrom: 6 }, // target 6
  ]);
  assert.deepEqual(stridedWindows(5, 8, 4), [{ start: 0, end: 5, scoreFrom: 1 }]);
  assert.throws(() => stridedWindows(5, 4, 4), /stride 4 must be an integer in 1..windowLength−1 \(3\)/);
});

test("strided windows score every target once with ≥ context − stride tokens of context", () => {
  for (const [n, ctx, stride] of [[50, 8, 3], [100, 16, 15], [33, 10, 1], [9, 4, 2]]) {
    const seen = new Array(n).fill(0);
    for (const w of stridedWindows(n, ctx, stride)) {
      assert.ok(w.end - w.start <= ctx);
      for (let t = w.scoreFrom; t < w.end; t++) {
        seen[t]++;
        if (t >= ctx) assert.ok(t - w.start >= ctx - stride, `target ${t} context ${t - w.start}`);
      }
    }
    assert.deepEqual(seen, [0, ...new Array(n - 1).fill(1)]);
  }
});

// A scorer over characters: a uniform model over V symbols (PPL must be exactly V) …
const chars = (bos?: number): Omit<TokenScorer, "tokenLogProbs"> => ({
  windowLength: 4,
  bos,
  encode: (s) => [...s].map((c) => c.charCodeAt(0)),
});

test("perplexity of a uniform model over V symbols is V", async () => {
  const V = 37;
  const scorer: TokenScorer = { ...chars(0), tokenLogProbs: (ws) => ws.map((w) => w.slice(1).map(() => -Math.log(V))) };
  const r = await evaluatePerplexity(scorer, ["hello world", "abc"], { stride: 2 });
  assert.ok(Math.abs(r.perplexity - V) < 1e-9);
  assert.equal(r.tokens, 11 + 3); // BOS makes every character a target
  assert.equal(r.documents, 2);
  // Bits per byte: 14 targets at log2 V bits over 14 ASCII bytes.
  assert.equal(r.bytes, 14);
  assert.ok(Math.abs(r.bitsPerByte - Math.log2(V)) < 1e-12);
});

test("bits per byte counts UTF-8 bytes, not tokens: a 2-byte character halves its share", async () => {
  const V = 16; // 4 bits per token
  const scorer: TokenScorer = { ...chars(0), tokenLogProbs: (ws) => ws.map((w) => w.slice(1).map(() => -Math.log(V))) };
  // "héllo": 5 characters (one token each) = 6 UTF-8 bytes → 5 · 4 bits / 6 bytes.
  const r = await evaluatePerplexity(scorer, ["héllo"], { stride: 2 });
  assert.equal(r.tokens, 5);
  assert.equal(r.bytes, 6);
  assert.ok(Math.abs(r.bitsPerByte - 20 / 6) < 1e-12);
});

test("perplexity pools NLL over exactly the scored targets, with their window contexts", async () => {
  // log p(w_t | window prefix) = −(1 + number of context tokens in the window)/10: depends on the window,
  // so a wrong window or double-counted target changes the total.
  const scorer: TokenScorer = { ...chars(), tokenLogProbs: (ws) => ws.map((w) => w.slice(1).map((_, i) => -(1 + (i + 1)) / 10)) };
  // 7 tokens, context 4, stride 2 → targets 1,2,3 with contexts 1,2,3; 4,5 with 2,3; 6 with 2 (see above).
  const ctxLens = [1, 2, 3, 2, 3, 2];
  const nll = ctxLens.reduce((s, c) => s + (1 + c) / 10, 0);
  const r = await evaluatePerplexity(scorer, ["abcdefg"], { stride: 2, batchSize: 2 });
  assert.equal(r.tokens, 6);
  assert.ok(Math.abs(r.nll - nll / 6) < 1e-12);
  assert.ok(Math.abs(r.perplexity - Math.exp(nll / 6)) < 1e-12);
});
