import { test } from "node:test";
import assert from "node:assert/strict";
import { Tokenizer, preTokenize, trainTokenizer } from "../../ml/tokenizer.ts";
import { makeRng } from "../../ml/prng.ts";

const corpus = [
  "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!",
  "Zürich, Łódź and 東京 are cities — naïve café owners say “hello” 👋🏽 in 2024.",
  "  indented   text\twith tabs\nand newlines, don't we'll they're  ",
];

test("a hand-worked toy: most frequent pair first, ties to the smallest pair, stop below minFrequency", () => {
  // pre-tokens "abab", " abab", " ab": (a,b) occurs 5x -> merge 256; then (" ",256) and (256,256)
  // both occur 2x -> the smaller pair (32, 256) -> 257; then every pair occurs once -> stop.
  const tok = trainTokenizer(["abab abab ab"], { vocabSize: 1000 });
  assert.deepEqual(tok.merges, [[97, 98], [32, 256]]);
  assert.deepEqual(tok.encode("abab ab"), [256, 256, 257]);
  assert.equal(tok.vocabSize, 256 + 2 + 3);
  assert.deepEqual([tok.bos, tok.eos, tok.pad], [258, 259, 260]);
});

test("training is deterministic and toJSON/fromJSON reloads the same tokenizer", () => {
  const a = trainTokenizer(corpus, { vocabSize: 300 });
  const b = trainTokenizer(corpus, { vocabSize: 300 });
  assert.deepEqual(a.merges, b.merges);
  assert.ok(a.merges.length > 20);
  const c = Tokenizer.fromJSON(JSON.parse(JSON.stringify(a)));
  assert.deepEqual(c.toJSON(), a.toJSON());
  for (const s of corpus) assert.deepEqual(c.encode(s), a.encode(s));
  assert.ok(a.encode(corpus[0]).length < new TextEncoder().encode(corpus[0]).length / 1.5, "merges compress the training text");
});

test("encode -> decode round-trips arbitrary UTF-8 (random code points from every plane)", () => {
  const tok = trainTokenizer(corpus, { vocabSize: 400 });
  const rng = makeRng(12);
  const ranges = [[0, 0x7f], [0x80, 0x7ff], [0x800, 0xd7ff], [0xe000, 0xffff], [0x10000, 0x10ffff]];
  for (let n = 0; n < 300; n++) {
    const len = Math.floor(rng.next() * 40);
    let s = "";
    for (let i = 0; i < len; i++) {
      const [lo, hi] = ranges[Math.floor(rng.next() * ranges.length)];
      s += String.fromCodePoint(lo + Math.floor(rng.next() * (hi - lo + 1)));
    }
    const ids = tok.encode(s);
    assert.ok(ids.every((id) => id >= 0 && id < tok.bos));
    assert.equal(tok.decode(ids), s);
  }
  for (const s of corpus) assert.equal(tok.decode(tok.encode(s)), s);
  assert.equal(preTokenize(corpus[2]).join(""), corpus[2], "pre-tokens cover the text");
});

test("special tokens are added only through the API and dropped on decode", () => {
  const tok = trainTokenizer(corpus, { vocabSize: 300 });
  const ids = tok.encode("hi <|eos|>", { bos: true, eos: true });
  assert.equal(ids[0], tok.bos);
  assert.equal(ids[ids.length - 1], tok.eos);
  assert.equal(ids.filter((i) => i >= tok.bos).length, 2, "the literal text <|eos|> is not a special token");
  assert.equal(tok.decode(ids), "hi <|eos|>");
  assert.equal(tok.decode(ids, { keepSpecials: true }), "<|bos|>hi <|eos|><|eos|>");
});

test("bad tokenizer files and options are typed errors", () => {
  assert.throws(() => Tokenizer.fromJSON({ format: "gpt2" }), (e: { _tag: string }) => e._tag === "TokenizerError");
  assert.throws(() => Tokenizer.fromJSON({ format: "acft-byte-bpe", version: 9, merges: [], specials: [] }), /version 9/);
  assert.throws(() => Tokenizer.fromJSON({ format: "acft-byte-bpe", version: 1, merges: [[300, 1]], specials: ["<|bos|>", "<|eos|>", "<|pad|>"] }), /merge 0/);
  assert.throws(() => trainTokenizer(corpus, { vocabSize: 100 }), /vocabSize/);
  assert.throws(() => trainTokenizer(corpus, { vocabSize: 300 }).decode([99999]), /outside the vocabulary/);
});
