// Readers against the real files in ../shared/datasets: record counts must equal the counts stated
// in its README, and cross-checks between files must hold.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DATASETS } from "../../data/registry.ts";
import { readMmlu } from "../../data/readers/mmlu.ts";
import { readWikiText, wikitextSplit, detokenizeWikiText } from "../../data/readers/wikitext.ts";
import { readToxiGenAnnotated, readToxiGenPrompts } from "../../data/readers/toxigen.ts";
import { readSafeNlp } from "../../data/readers/safenlp.ts";

const DIR = join(import.meta.dirname, "../../../shared/datasets");
const skip = existsSync(DIR) ? false : `../shared/datasets not found: ${DIR}`;
const count = <A>(xs: readonly A[], p: (a: A) => boolean) => xs.filter(p).length;

test("wikitext-2: line counts of train/valid/test match the README (36,718 / 3,760 / 4,358)", { skip }, () => {
  const d = readWikiText(DIR);
  assert.equal(d.errors.length, 0);
  assert.equal(count(d.records, (l) => l.split === "train"), 36718);
  assert.equal(count(d.records, (l) => l.split === "valid"), 3760);
  assert.equal(count(d.records, (l) => l.split === "test"), 4358);
  assert.equal(d.records.find((l) => l.split === "valid" && l.text.startsWith(" ="))?.text, " = Homarus gammarus = ");
  // 2,051,910 space-separated tokens in train (README; "\s" would also split a few Unicode spaces)
  const train = wikitextSplit(d, "train");
  assert.equal(train.split(/[ \n]+/).filter((t) => t !== "").length, 2051910);
  assert.equal(detokenizeWikiText("1 @,@ 000 and state @-@ of @-@ the @-@ art 3 @.@ 5"), "1,000 and state-of-the-art 3.5");
});

test("toxigen prompts: 31 files x 1,000 prompts, 4-7 statements each, 27 original files", { skip }, () => {
  const d = readToxiGenPrompts(DIR);
  assert.equal(d.records.length, 31000);
  assert.equal(d.files.length, 31);
  assert.equal(count(d.records, (p) => p.original), 27000);
  assert.ok(d.records.every((p) => p.statements.length >= 4 && p.statements.length <= 7), "4-7 statements per prompt");
  // README: 372 unique hate and 297 unique neutral statements over all 31 files. A naive split on
  // the literal "\n" gives 372 hate pieces, one of them the empty piece left by the stray escaped
  // newline in hate_lgbtq ("…families\\n\n- …"); the reader drops it, hence 371 statements.
  const uniq = (label: string) => new Set(d.records.filter((p) => p.label === label).flatMap((p) => p.statements)).size;
  assert.equal(uniq("hate"), 371);
  assert.equal(uniq("neutral"), 297);
});

test("toxigen annotated: 8,960 rows, label and human-score counts as in the README", { skip }, () => {
  const d = readToxiGenAnnotated(DIR);
  assert.equal(d.records.length, 8960);
  assert.equal(count(d.records, (r) => r.label === "hate"), 4462);
  assert.equal(count(d.records, (r) => r.toxicity_human > 3), 3015);
  assert.equal(count(d.records, (r) => r.actual_method === "TopK"), 4561);
  assert.equal(count(d.records, (r) => r.predicted_author === "ai"), 922);
  assert.equal(d.records[0].text, "asians are trying to take over the world with their karate skills");
});

test("safenlp: 6,514 items (2,767 hate); bytes-literal decoding reproduces 5,502 exact text matches with the annotated CSV", { skip }, () => {
  const s = readSafeNlp(DIR);
  assert.equal(s.records.length, 6514);
  assert.equal(count(s.records, (r) => r.label === "hate"), 2767);
  assert.ok(s.records.every((r) => (r.label === "hate") === (r.toxicity_score > 3)), "label is hate exactly when score > 3");
  const a = readToxiGenAnnotated(DIR).records;
  const exact = count(s.records, (r) => r.id >= 940 && a[r.id - 940]?.text === r.text);
  assert.equal(exact, 5502);
});

test("jigsaw, RTP, MMLU, PIQA, ARC, WinoGrande: counts match the README", { skip }, () => {
  const jig = DATASETS.jigsaw.read(DIR);
  assert.equal(jig.records.length, 10000);
  assert.equal(count(jig.records, (r) => r.toxic === 1), 4694);
  assert.equal(DATASETS["jigsaw-head267"].read(DIR).records.length, 267);
  const rtp = DATASETS.realtoxicityprompts.read(DIR);
  assert.equal(count(rtp.records, (r) => r.subset === "toxic"), 1196);
  assert.equal(count(rtp.records, (r) => r.subset === "nontoxic"), 1200);
  assert.ok(rtp.records.every((r) => r.subset === "nontoxic" || r.challenging));
  const m = readMmlu(DIR);
  assert.equal(count(m.records, (q) => q.split === "dev"), 285);
  assert.equal(count(m.records, (q) => q.split === "val"), 1531);
  assert.equal(count(m.records, (q) => q.split === "test"), 14042);
  assert.equal(new Set(m.records.map((q) => q.subject)).size, 57);
  assert.equal(DATASETS.piqa.read(DIR).records.length, 1838);
  const e = DATASETS["arc-easy"].read(DIR).records;
  const c = DATASETS["arc-challenge"].read(DIR).records;
  assert.deepEqual([count(e, (x) => x.split === "dev"), count(e, (x) => x.split === "test")], [570, 2376]);
  assert.deepEqual([count(c, (x) => x.split === "dev"), count(c, (x) => x.split === "test")], [299, 1172]);
  assert.equal(DATASETS.winogrande.read(DIR).records.length, 1267);
});

test("digests are stable across reads and distinct across datasets", { skip }, () => {
  const a = DATASETS.piqa.read(DIR).digest;
  assert.equal(DATASETS.piqa.read(DIR).digest, a);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(DATASETS.winogrande.read(DIR).digest, a);
});
