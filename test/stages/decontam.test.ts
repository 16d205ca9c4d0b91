// Decontamination end to end, on the default synthetic world (the `small` size's data) and on
// ../shared/datasets: the `contamination` table's remaining-overlap counts are 0, its before-filter
// counts equal an independent string-based 13-gram check, and the texts the training stages actually
// read or write (the fine-tuning mix and its prompts, the Jigsaw fine-tuning sets, pretraining, the
// tokenizer's and the oracle's texts) share no 13-gram with any evaluation item. And the Jigsaw
// held-out pool: fixed by the data, disjoint from every Jigsaw training use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { definePipeline, type Builder, type Ref } from "../../engine/Pipeline.ts";
import type { DirOutput } from "../../engine/Stage.ts";
import type { Engine } from "../../engine/Runner.ts";
import { MIN_ITEM_WORDS, NGRAM_WORDS, normalizeWords, type EvalSet } from "../../data/decontam.ts";
import { jigsawTrainingText } from "../../ml/eval/jigsaw.ts";
import { formatMmluExample } from "../../ml/eval/mmlu.ts";
import { SIZES } from "../../pipelines/sizes.ts";
import { contamination } from "../../stages/contamination.ts";
import {
  commentTexts, evalIndex, evalSets, generalParagraphs, inJigsawHeldOut, jigsawSplit, judgeTexts, mmluItems, mmluPracticePages, oracleTexts, STATEMENT_SEP, toxicDomainTexts, trainingSources,
} from "../../stages/corpora.ts";
import { jigsawMix } from "../../stages/jigsawMix.ts";
import { mix } from "../../stages/mix.ts";
import { pretrainExamples } from "../../stages/pretrain.ts";
import { synthetic } from "../../stages/synthetic.ts";
import { classifierExamples } from "../../data/corpora.ts";
import { DATASETS } from "../../data/registry.ts";
import { runP, withEngine } from "../engine/helpers.ts";

const SHARED = join(import.meta.dirname, "../../../shared/datasets");
const skipReal = existsSync(SHARED) ? false : `../shared/datasets not found: ${SHARED}`;

/**
 * An independent check: the evaluation items' 13-grams (and whole short items) as strings in a Set —
 * no hashing — and a predicate on a training text with the same rules as data/decontam.ts.
 */
const referenceCheck = (sets: readonly EvalSet[]) => {
  const runs = new Set<string>(), whole = new Set<string>(), lengths = new Set<number>([NGRAM_WORDS]);
  for (const s of sets)
    for (const item of s.items)
      for (const r of typeof item === "string" ? [item] : item) {
        const w = normalizeWords(r);
        if (w.length === 0) continue;
        if (w.length < MIN_ITEM_WORDS) whole.add(w.join(" "));
        else if (w.length < NGRAM_WORDS) runs.add(w.join(" ")), lengths.add(w.length);
        else for (let i = 0; i + NGRAM_WORDS <= w.length; i++) runs.add(w.slice(i, i + NGRAM_WORDS).join(" "));
      }
  return (text: string): boolean => {
    const w = normalizeWords(text);
    if (w.length < MIN_ITEM_WORDS) return whole.has(w.join(" "));
    for (const L of lengths) for (let i = 0; i + L <= w.length; i++) if (runs.has(w.slice(i, i + L).join(" "))) return true;
    return false;
  };
};

/** The acceptance rule: every numeric column whose name does not match /total|items|n$|size/i must be 0. */
const nonZero = (rows: readonly Record<string, unknown>[]): string[] =>
  rows.flatMap((r) =>
    Object.entries(r)
      .filter(([k, v]) => typeof v === "number" && k !== "run_id" && !/total|items|n$|size/i.test(k) && v !== 0)
      .map(([k, v]) => `${r.eval_set}/${r.train_source}: ${k} = ${v}`));

/** data → contamination, the fine-tuning mix and the two Jigsaw fine-tuning sets, at a study size. */
const decontamPipeline = (size: "small" | "base", data: (p: Builder) => Ref<DirOutput>) =>
  definePipeline({
    name: "decontam", description: "data → contamination + the training sets", params: Schema.Struct({}),
    build: (p) => {
      const d = data(p);
      const { maxExamples, testItems, maxChars } = SIZES[size].jigsaw;
      p.add(contamination, { id: "contamination", inputs: { data: d } });
      p.add(mix, { id: "mix", params: { seed: 1, ...SIZES[size].mix }, inputs: { data: d } });
      for (const mode of ["text", "classifier"] as const)
        p.add(jigsawMix, { id: `jigsaw-${mode}`, params: { seed: 1, testItems, maxChars, maxExamples, mode }, inputs: { data: d } });
    },
  });

const jsonl = (dir: string, name: string) => readFileSync(join(dir, name), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { text: string; prompt?: string; domain: string });

/** Run the pipeline; check the table and every training text the stages wrote or read. */
const checkStudyData = async (e: Engine, size: "small" | "base", data: (p: Builder) => Ref<DirOutput>, external?: string) => {
  const s = await runP(e, decontamPipeline(size, data));
  assert.ok(s.instances.every((i) => i.status === "ran" || i.status === "cached"), JSON.stringify(s.instances));
  const dir = (id: string) => e.store.dirPath(e.db.lastForInstance(id)!.output_digest);
  const dataDir = external ?? dir("data");
  const table = e.db.tables().contamination;
  assert.ok(table && table.length > 0, "the contamination table is written");
  assert.deepEqual(nonZero(table), [], "no overlap remains after decontamination");
  const row = (set: string, source: string) => table.find((r) => r.eval_set === set && r.train_source === source)! as Record<string, number>;
  const sets = evalSets(dataDir);
  const sources = trainingSources(dataDir);
  assert.deepEqual(new Set(table.map((r) => r.eval_set)), new Set([...sets.map((x) => x.name), "any"]));
  assert.deepEqual(new Set(table.map((r) => r.train_source)), new Set(sources.map((x) => x.name)));
  const reference = referenceCheck(sets), index = evalIndex(dataDir);
  // The string-based check costs ~1 µs per word and length: on the real data's largest collections
  // (millions of words) the index itself is used, everywhere else the independent check.
  const words = (texts: readonly string[]) => texts.reduce((a, t) => a + t.length, 0) / 6;
  const checker = (texts: readonly string[]) => (words(texts) < 1e6 ? reference : (t: string) => index.contaminates(t));
  const ref = (t: string) => reference(t);
  // The table's before-filter counts are the independent check's, and the filter kept the rest.
  for (const src of sources.filter((x) => words(x.before) < 1e6)) {
    const r = row("any", src.name);
    assert.equal(r.removed_items, src.before.filter(ref).length, `${src.name}: removed`);
    assert.equal(r.kept_items, src.before.length - r.removed_items, `${src.name}: kept`);
    assert.equal(src.after.filter(ref).length, 0, `${src.name}: after`);
  }
  // What training reads or writes: the mix (toxic examples are lists of statements: each statement
  // is a decontaminated text), its prompts, the Jigsaw fine-tuning sets, pretraining, tokenizer, oracle.
  const mixed = jsonl(dir("mix"), "train.jsonl");
  const trained: [string, string[]][] = [
    ["mix general", mixed.filter((x) => x.domain === "general").map((x) => x.text)],
    ["mix toxic statements", mixed.filter((x) => x.domain === "toxic").flatMap((x) => x.text.split(STATEMENT_SEP))],
    ["mix prompts", JSON.parse(readFileSync(join(dir("mix"), "prompts.json"), "utf8")) as string[]],
    ["jigsaw text", jsonl(dir("jigsaw-text"), "train.jsonl").map((x) => x.text)],
    ["jigsaw classifier", jsonl(dir("jigsaw-classifier"), "train.jsonl").map((x) => `${x.prompt}${x.text}`)],
    ["pretraining general", pretrainExamples(dataDir, { clean: false, threadSize: 4, seed: 1 }).filter((x) => x.domain === "general").map((x) => x.text)],
    ["pretraining practice pages", mmluPracticePages(dataDir)],
    ["oracle", oracleTexts(dataDir).map((t) => t.text)],
    ["pretraining comments", commentTexts(dataDir).map((t) => t.text)],
    ["evaluation judge", judgeTexts(dataDir, 100_000, 1).map((t) => t.text)],
    ["tokenizer", [...generalParagraphs(dataDir, "train"), ...toxicDomainTexts(dataDir)]],
  ];
  for (const [what, texts] of trained) {
    assert.ok(texts.length > 0, `${what}: no texts`);
    const bad = texts.filter(checker(texts));
    assert.deepEqual(bad.map((t) => t.slice(0, 120)), [], `${what}: ${bad.length} of ${texts.length} texts share a 13-gram with an evaluation item`);
  }
  return { table, row, dataDir };
};

test("synthetic world (default config): nothing contaminated remains; the table agrees with a string-based check", async () => {
  assert.deepEqual(SIZES.small.synthetic, {}, "the small size uses the default synthetic config");
  await withEngine(async (e) => {
    const { row, dataDir } = await checkStudyData(e, "small", (p) => p.add(synthetic, { id: "data", params: {} }));
    // a test question copied in the evaluation's own layout is found, though the question alone is short
    const index = evalIndex(dataDir), q = mmluItems(dataDir).test.find((x) => normalizeWords(x.question).length < MIN_ITEM_WORDS)!;
    assert.ok(index.contaminates(`Practice quiz.\n\n${formatMmluExample(q, true)}Next question follows.`));
    assert.ok(!index.contaminates(`Practice quiz.\n\n${formatMmluExample({ ...q, choices: [q.choices[3], q.choices[2], q.choices[1], q.choices[0]] }, true)}`), "other choices: another item");
    // the synthetic forum texts are templated: some toxic-domain statements repeat evaluation prompts
    assert.ok(row("toxigen-safenlp", "toxigen-prompts").removed_items > 0);
    assert.ok(row("toxigen-safenlp", "toxigen-annotated").removed_items > 0);
    // the synthetic encyclopedia and quiz items do not overlap
    assert.equal(row("mmlu-test", "wikitext-train").removed_items, 0);
  });
});

test("../shared/datasets: nothing contaminated remains; ToxiGen annotated texts that are SafeNLP prompts are dropped", { skip: skipReal }, async () => {
  await withEngine(async (e) => {
    const { row, table } = await checkStudyData(e, "base", (p) => p.external(SHARED, { id: "data" }), SHARED);
    // data/readers: 5,502 annotated texts are exact SafeNLP texts; with 13-gram overlap more are found.
    assert.ok(row("toxigen-safenlp", "toxigen-annotated").removed_items >= 5502, JSON.stringify(row("toxigen-safenlp", "toxigen-annotated")));
    assert.ok(row("any", "jigsaw-train").removed_items > 0);
    for (const r of table.filter((x) => x.eval_set === "any")) console.log(`${r.train_source}: ${r.removed_items} of ${r.train_items} removed`);
  });
});

/** Every Jigsaw training use is disjoint from the held-out pool, which does not depend on seed or size. */
const checkJigsawPool = (dataDir: string) => {
  const all = classifierExamples(DATASETS.jigsaw.read(dataDir));
  const key = (t: string) => normalizeWords(t).join(" ");
  const pool = all.filter((t) => inJigsawHeldOut(t.text));
  const poolKeys = new Set(pool.map((t) => key(t.text)));
  const share = pool.length / all.length;
  assert.ok(share > 0.07 && share < 0.13, `held-out share ${share}`);
  // the same word sequence is never on both sides (duplicates, case or punctuation variants)
  assert.ok(all.every((t) => inJigsawHeldOut(t.text) === poolKeys.has(key(t.text))));
  const trainSplit = jigsawSplit(dataDir, 20, 1).train;
  for (const [testItems, seed] of [[20, 1], [50, 2], [10_000_000, 3]] as const) {
    const { train, test } = jigsawSplit(dataDir, testItems, seed);
    assert.deepEqual(train, trainSplit, "the training pool depends on neither seed nor testItems");
    assert.equal(test.length, Math.min(testItems, pool.length));
    assert.ok(test.every((t) => poolKeys.has(key(t.text))), "the evaluation items come from the pool");
  }
  assert.ok(trainSplit.length > 0.8 * (all.length - pool.length));
  const inPool = (texts: readonly string[]) => texts.filter((t) => poolKeys.has(key(t)));
  assert.deepEqual(inPool(trainSplit.map((t) => t.text)), [], "Jigsaw fine-tuning");
  assert.deepEqual(inPool(oracleTexts(dataDir).map((t) => t.text)), [], "oracle");
  assert.deepEqual(inPool(commentTexts(dataDir).map((t) => t.text)), [], "pretraining comments");
  assert.deepEqual(inPool(judgeTexts(dataDir, 100_000, 1).map((t) => t.text)), [], "evaluation judge");
  // Jigsaw fine-tuning texts as written (label words, length cap): none is a pool comment's
  for (const maxChars of [80, 160, 300]) {
    const poolTexts = new Set(pool.map((t) => jigsawTrainingText(t, maxChars)));
    assert.equal(trainSplit.map((t) => jigsawTrainingText(t, maxChars)).filter((t) => poolTexts.has(t)).length, 0);
  }
  // pretraining threads: no pool comment is one of a thread's comments
  const threads = pretrainExamples(dataDir, { clean: false, threadSize: 4, seed: 1 }).filter((x) => x.domain === "toxic").map((x) => `\n${x.text}\n`);
  assert.equal(pool.filter((p) => threads.some((th) => th.includes(`\n${p.text}\n`))).length, 0);
};

test("Jigsaw held-out pool (synthetic): ~10 % by a hash of the words, disjoint from fine-tuning, oracle and pretraining", async () => {
  await withEngine(async (e) => {
    const p = definePipeline({ name: "d", description: "", params: Schema.Struct({}), build: (b) => void b.add(synthetic, { id: "data", params: {} }) });
    await runP(e, p);
    checkJigsawPool(e.store.dirPath(e.db.lastForInstance("data")!.output_digest));
  });
});

test("Jigsaw held-out pool (../shared/datasets): disjoint from fine-tuning, oracle and pretraining", { skip: skipReal }, () => {
  checkJigsawPool(SHARED);
});
