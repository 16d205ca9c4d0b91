// The n-gram overlap module on hand-made cases: an item copied into a training document is found
// whatever the case and punctuation, a 12-word overlap with a long item is not (13 is), short items
// match only as a whole and very short ones are skipped and counted, the ASCII fast path and the
// Unicode path agree, the report's counts are the hand-counted ones, and random unrelated text never
// matches (no false positive from the 64-bit hashes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { contaminationRows, decontaminate, MIN_ITEM_WORDS, NGRAM_WORDS, NgramIndex, normalizeWords, stableUnit } from "../../data/decontam.ts";
import { Rng } from "../../data/synthetic/rng.ts";

/** `k` distinct made-up words w0 … w{k-1} with a prefix (so two prefixes never share a word). */
const seq = (prefix: string, k: number, from = 0) => Array.from({ length: k }, (_, i) => `${prefix}${from + i}`).join(" ");

test("normalisation: lowercase word tokens, punctuation and whitespace only separate, NFKC", () => {
  assert.deepEqual(normalizeWords("Hello, WORLD!  It's 2,024 -- o'clock…\n(ok)"), ["hello", "world", "it", "s", "2", "024", "o", "clock", "ok"]);
  assert.deepEqual(normalizeWords("Ünïcode ﬁne ＡＢＣ café"), ["ünïcode", "fine", "abc", "café"]);
  assert.deepEqual(normalizeWords(" ... "), []);
  assert.equal(NGRAM_WORDS, 13);
  assert.equal(MIN_ITEM_WORDS, 8);
});

test("an evaluation item copied inside a training document is found, whatever its case and punctuation", () => {
  const item = "The quick brown fox jumps over the lazy dog while the farmer sleeps under an old oak tree.";
  const index = NgramIndex.build([{ name: "eval", items: [item] }]);
  assert.equal(normalizeWords(item).length, 18);
  const doc = `${seq("pre", 40)} THE QUICK-BROWN fox; jumps over “the” lazy dog — while the farmer sleeps under an old oak tree!!! ${seq("post", 40)}`;
  assert.ok(index.contaminates(doc));
  assert.ok(index.contaminates(item.toUpperCase()));
  // 18 words → 6 distinct 13-grams, all in the document
  assert.equal(index.size, 6);
  assert.deepEqual(index.overlap(doc).items, [0]);
  assert.equal(index.overlap(doc).ngrams.length, 6);
  assert.ok(!index.contaminates(seq("pre", 40)));
});

test("a 12-word overlap with a long item is not contamination; 13 words are", () => {
  const item = seq("w", 20);
  const index = NgramIndex.build([{ name: "eval", items: [item] }]);
  assert.equal(index.size, 8); // 20 − 13 + 1
  const part = (from: number, k: number) => `${seq("x", 10)} ${seq("w", k, from)} ${seq("y", 10)}`;
  assert.ok(!index.contaminates(part(0, 12)));
  assert.ok(!index.contaminates(part(8, 12)));
  assert.ok(!index.contaminates(part(3, 12)));
  assert.ok(index.contaminates(part(0, 13)));
  assert.ok(index.contaminates(part(7, 13)));
  assert.equal(index.overlap(part(3, 14)).ngrams.length, 2); // windows starting at w3 and w4
  // the 13 words must be contiguous: one word inserted in the middle breaks every 13-gram
  assert.ok(!index.contaminates(`${seq("w", 7)} inserted ${seq("w", 12, 7)}`));
  // a training text shorter than 13 words cannot contain a 13-gram, even if it is inside the item
  assert.ok(!index.contaminates(seq("w", 12, 4)));
});

test("short items: 8–12 words match as the whole contiguous sequence; under 8 words only a training text that is exactly the item", () => {
  const ten = "Never trust a dog that walks on two legs at night"; // 11 words
  const seven = "all cats are grey in the dark"; // 7 words
  const index = NgramIndex.build([{ name: "eval", items: [ten, seven] }]);
  assert.equal(normalizeWords(ten).length, 11);
  assert.deepEqual(index.sets, [{ name: "eval", items: 2, shortItems: 1, ngrams: 2 }]);
  assert.ok(index.contaminates(`Someone said: never, ever... no: "Never trust a dog that walks on two legs at night!" ${seq("z", 5)}`));
  assert.ok(index.contaminates(ten));
  assert.ok(!index.contaminates("never trust a dog that walks on two legs at"), "10 of its 11 words");
  assert.ok(!index.contaminates("never trust a dog that walks on two feet at night"));
  assert.ok(!index.contaminates(`${seq("q", 20)} all cats are grey in the dark ${seq("r", 20)}`), "the 7-word item inside a longer text");
  assert.ok(!index.contaminates("so all cats are grey in the dark"));
  assert.ok(index.contaminates("All cats are grey... in the dark!"), "a training text that is exactly the 7-word item");
  assert.ok(!index.contaminates("all cats are grey in the"));
  // minWords is a choice: at 7 the short item is matched inside longer texts too
  assert.ok(NgramIndex.build([{ name: "eval", items: [seven] }], { minWords: 7 }).contaminates(`x ${seven} y`));
  // n is a choice too: with n = 5, a 5-word run of the long item is enough
  assert.ok(NgramIndex.build([{ name: "eval", items: [ten] }], { n: 5, minWords: 5 }).contaminates("dog that walks on two"));
});

test("an item's renderings are all indexed, and it counts once", () => {
  const q = "Which river flows through the capital city of the northern kingdom";
  const index = NgramIndex.build([{ name: "mc", items: [[q, `${q}\nthe red river\nthe blue river`], ["six words only in this item", "and three more"]] }]);
  assert.deepEqual(index.sets.map((s) => [s.items, s.shortItems]), [[2, 1]]);
  assert.ok(index.contaminates("and three more") && index.contaminates("Six words only in this item."));
  assert.ok(index.contaminates(`Quiz. ${q}? A. the red river B. the blue river`), "the question alone (11 words) is found in a labelled quiz layout");
  assert.ok(index.contaminates(`the capital city of the northern kingdom the red river the blue river`), "the 13-grams across question and choices are indexed");
});

test("the ASCII fast path and the Unicode path hash words alike", () => {
  const item = seq("alpha", 15);
  const index = NgramIndex.build([{ name: "eval", items: [item] }]);
  assert.ok(index.contaminates(`naïve start: ${item}`), "a non-ASCII character elsewhere sends the text through normalizeWords");
  const uni = "Ça va très bien, merci beaucoup pour la soirée chez vous hier soir avec les enfants";
  const u = NgramIndex.build([{ name: "u", items: [uni] }]);
  assert.ok(u.contaminates(`x ${uni.toUpperCase()} y`));
  assert.ok(!u.contaminates(uni.normalize("NFD").replace(/\p{M}/gu, "")), "accents matter (only NFKC, no accent stripping)");
  // an ASCII item found in ASCII text and in the same text with a non-ASCII character appended
  const plain = NgramIndex.build([{ name: "p", items: ["one two three four five six seven eight nine ten eleven twelve thirteen"] }]);
  assert.deepEqual([plain.contaminates("zero one two three four five six seven eight nine ten eleven twelve thirteen"), plain.contaminates("zero one two three four five six seven eight nine ten eleven twelve thirteen é")], [true, true]);
});

test("decontaminate drops exactly the texts that share an n-gram", () => {
  const index = NgramIndex.build([{ name: "a", items: [seq("a", 13)] }, { name: "b", items: [seq("b", 9)] }]);
  const texts = [seq("a", 13), seq("c", 30), `${seq("c", 3)} ${seq("b", 9)}`, seq("b", 8), `${seq("a", 12)} ${seq("b", 9, 1)}`];
  const { kept, removed } = decontaminate(index, texts, (t) => t);
  assert.deepEqual(removed, [texts[0], texts[2]]);
  assert.deepEqual(kept, [texts[1], texts[3], texts[4]]);
});

test("contaminationRows: hand-counted overlap before the filter and what remains after it", () => {
  const A0 = seq("a", 14), A1 = seq("k", 13), B0 = seq("b", 10), B1 = "too short for an item";
  const index = NgramIndex.build([{ name: "A", items: [A0, A1] }, { name: "B", items: [B0, B1] }]);
  const before = [
    `${A0} ${B0}`, // A: both 13-grams of A0; B: the whole of B0
    `x ${seq("a", 13, 1)} y`, // A: the second 13-gram of A0
    seq("z", 40),
    `${seq("k", 13)}`, // A: A1
  ];
  const after = [seq("z", 40), `${seq("a", 13, 1)} and more`]; // a wrong "after", to see the remaining counts
  const rows = contaminationRows(index, [{ name: "src", before, after: [...after, `${B0} ${A1}`] }]);
  const row = (set: string) => rows.find((r) => r.eval_set === set)!;
  assert.deepEqual(rows.map((r) => r.eval_set), ["A", "B", "any"]);
  assert.deepEqual(row("A"), {
    eval_set: "A", train_source: "src", eval_items: 2, eval_short_items: 0, train_items: 4, removed_items: 3, matched_eval_items: 2,
    kept_items: 3, contaminated_train_texts: 2, contaminated_eval_texts: 2, overlapping_ngrams: 2,
  });
  assert.deepEqual(row("B"), {
    eval_set: "B", train_source: "src", eval_items: 2, eval_short_items: 1, train_items: 4, removed_items: 1, matched_eval_items: 1,
    kept_items: 3, contaminated_train_texts: 1, contaminated_eval_texts: 1, overlapping_ngrams: 1,
  });
  assert.deepEqual(row("any"), {
    eval_set: "any", train_source: "src", eval_items: 4, eval_short_items: 1, train_items: 4, removed_items: 3, matched_eval_items: 3,
    kept_items: 3, contaminated_train_texts: 2, contaminated_eval_texts: 3, overlapping_ngrams: 3,
  });
  // a clean "after" leaves nothing
  const clean = contaminationRows(index, [{ name: "src", before, after: decontaminate(index, before, (t) => t).kept }]);
  assert.ok(clean.every((r) => r.contaminated_train_texts === 0 && r.contaminated_eval_texts === 0 && r.overlapping_ngrams === 0));
  assert.deepEqual(clean.map((r) => r.kept_items), [1, 1, 1]);
});

test("no false positives: 20k random training texts against 5k random items over disjoint vocabularies", () => {
  const rng = new Rng("decontam-test");
  const vocab = (p: string) => Array.from({ length: 500 }, (_, i) => `${p}${i}`);
  const ev = vocab("e"), tr = vocab("t");
  const text = (v: string[], k: number) => Array.from({ length: k }, () => v[rng.int(v.length)]).join(" ");
  const items = Array.from({ length: 5000 }, (_, i) => text(ev, 8 + (i % 30)));
  const index = NgramIndex.build([{ name: "e", items }]);
  const texts = Array.from({ length: 20_000 }, () => text(tr, 60));
  assert.equal(texts.filter((t) => index.contaminates(t)).length, 0);
  // and every item is found in a text that embeds it
  assert.ok(items.every((it, i) => index.contaminates(`${texts[i]} ${it} ${texts[i + 1]}`)));
});

test("bad options are typed errors naming the option", () => {
  assert.throws(() => NgramIndex.build([], { n: 0 }), (e: any) => e._tag === "InvalidDataOption" && /decontam\.n/.test(e.message));
  assert.throws(() => NgramIndex.build([], { n: 13, minWords: 14 }), (e: any) => e._tag === "InvalidDataOption" && /decontam\.minWords/.test(e.message));
  assert.throws(() => NgramIndex.build([{ name: "x", items: [] }, { name: "x", items: [] }]), (e: any) => e._tag === "InvalidDataOption" && /distinct/.test(e.message));
  assert.equal(NgramIndex.build([]).contaminates(seq("a", 30)), false);
});

test("stableUnit: depends only on the words (not case or punctuation), spreads texts uniformly", () => {
  assert.equal(stableUnit("You are an IDIOT!!!", "s"), stableUnit("you are an idiot", "s"));
  assert.notEqual(stableUnit("you are an idiot", "s"), stableUnit("you are an idiot", "t"));
  assert.equal(stableUnit("a comment", "s"), 0.02427754644304514); // fixed across machines and runs
  const us = Array.from({ length: 20_000 }, (_, i) => stableUnit(`comment number ${i}`, "s"));
  const share = us.filter((u) => u < 0.1).length / us.length;
  assert.ok(Math.abs(share - 0.1) < 0.007, `share below 0.1: ${share}`); // sd 0.0021
  assert.ok(us.every((u) => u >= 0 && u < 1));
});
