// The text the models see: the mix's toxic-domain examples are whole prompt-file lists (one statement
// per line) with the held-out prompt statements removed, prompts are whole statements, and pretraining
// comments come in threads — so every model has seen text follow the end of a statement, as the
// toxicity evaluation asks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Schema } from "effect";
import { definePipeline } from "../../engine/Pipeline.ts";
import { mix } from "../../stages/mix.ts";
import { packTexts, pretrainExamples } from "../../stages/pretrain.ts";
import { commentTexts, decontaminated, generalParagraphs, inAnnotatedJudgeHalf, judgeTexts, mmluItems, mmluPracticePages, oracleTexts, STATEMENT_SEP, toxicDomainLists } from "../../stages/corpora.ts";
import { formatMmluClozeExample, formatMmluExample } from "../../ml/eval/mmlu.ts";
import { writeSynthetic } from "../../data/synthetic/generate.ts";
import { synthetic } from "../../stages/synthetic.ts";
import { SIZES } from "../../pipelines/sizes.ts";
import { runP, withEngine } from "../engine/helpers.ts";

const corpus = definePipeline({
  name: "corpus", description: "synthetic world → mix", params: Schema.Struct({}),
  build: (p) => {
    const data = p.add(synthetic, { id: "data", params: SIZES.tiny.synthetic });
    p.add(mix, { id: "mix", params: { prompts: 8, maxWords: 3000 }, inputs: { data } });
  },
});

test("mix: toxic-domain examples are prompt-file lists minus the held-out prompts; prompts are whole statements", async () => {
  await withEngine(async (e) => {
    const s = await runP(e, corpus);
    assert.ok(s.instances.every((i) => i.status === "ran"), JSON.stringify(s.instances));
    const dir = (id: string) => e.store.dirPath(e.db.lastForInstance(id)!.output_digest);
    const dataDir = dir("data"), mixDir = dir("mix");
    const lists = toxicDomainLists(dataDir);
    const statements = new Set(lists.flat());
    const prompts = JSON.parse(readFileSync(join(mixDir, "prompts.json"), "utf8")) as string[];
    assert.equal(prompts.length, 8);
    for (const p of prompts) assert.ok(statements.has(p), `prompt "${p}" is not a whole statement of the prompt files`);
    const examples = readFileSync(join(mixDir, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { text: string; domain: string });
    const toxic = examples.filter((x) => x.domain === "toxic");
    assert.ok(toxic.length > 0 && examples.some((x) => x.domain === "general"));
    const held = new Set(prompts);
    const listKeys = new Set(lists.map((l) => l.filter((st) => !held.has(st)).join(STATEMENT_SEP)));
    for (const x of toxic) {
      const lines = x.text.split(STATEMENT_SEP);
      for (const line of lines) assert.ok(!held.has(line), `held-out prompt "${line}" is in the training mix`);
      assert.ok(listKeys.has(x.text), `toxic-domain example is not a prompt-file list: ${x.text.slice(0, 80)}`);
    }
    assert.ok(toxic.some((x) => x.text.includes(STATEMENT_SEP)), "no toxic-domain example has more than one statement");
  });
});

test("pretraining comments come in seeded threads of threadSize, each comment exactly once", async () => {
  await withEngine(async (e) => {
    await runP(e, corpus);
    const dataDir = e.store.dirPath(e.db.lastForInstance("data")!.output_digest);
    const comments = commentTexts(dataDir).map((t) => t.text);
    const threads = pretrainExamples(dataDir, { clean: false, threadSize: 4, seed: 1 }).filter((x) => x.domain === "toxic").map((x) => x.text);
    // a few comments (as in the Kaggle file) hold a newline themselves: count lines, not comments
    const lines = (t: string) => t.split(STATEMENT_SEP).length;
    assert.equal(threads.length, Math.ceil(comments.length / 4));
    assert.equal(threads.reduce((a, t) => a + lines(t), 0), comments.reduce((a, c) => a + lines(c), 0));
    assert.deepEqual(threads.flatMap((t) => t.split(STATEMENT_SEP)).sort(), comments.flatMap((c) => c.split(STATEMENT_SEP)).sort());
    assert.deepEqual(pretrainExamples(dataDir, { clean: false, threadSize: 4, seed: 1 }), pretrainExamples(dataDir, { clean: false, threadSize: 4, seed: 1 }));
    assert.notDeepEqual(pretrainExamples(dataDir, { clean: false, threadSize: 4, seed: 2 }), pretrainExamples(dataDir, { clean: false, threadSize: 4, seed: 1 }));
    assert.equal(pretrainExamples(dataDir, { clean: true, threadSize: 4, seed: 1 }).filter((x) => x.domain === "toxic").length, 0);
  });
});

test("packTexts joins consecutive texts, one per line, into documents of at least minChars, losing none", () => {
  const texts = ["aaaa", "bb", "cccccc", "d", "ee"];
  assert.deepEqual(packTexts(texts, 7), ["aaaa\nbb", "cccccc\nd", "ee"]);
  assert.deepEqual(packTexts(texts, 8), ["aaaa\nbb\ncccccc", "d\nee"]);
  assert.deepEqual(packTexts(texts, 0), texts);
  assert.deepEqual(packTexts(texts, 1000), [texts.join("\n")]);
});

test("pretraining: packed general documents fill the context; practice pages hold every val question in both formulations, no test question", async () => {
  await withEngine(async (e) => {
    await runP(e, corpus);
    const dataDir = e.store.dirPath(e.db.lastForInstance("data")!.output_digest);
    const paras = generalParagraphs(dataDir, "train");
    const general = pretrainExamples(dataDir, { clean: true, threadSize: 4, seed: 1, packChars: 400 }).map((x) => x.text);
    assert.equal(general.join("\n"), paras.join("\n"), "packing keeps every paragraph, in order");
    assert.ok(general.slice(0, -1).every((d) => d.length >= 400));
    const pages = mmluPracticePages(dataDir);
    const withPages = pretrainExamples(dataDir, { clean: true, threadSize: 4, seed: 1, packChars: 400, practice: true }).map((x) => x.text);
    assert.equal(withPages.slice(general.length).join("\n"), pages.join("\n"), "the pages follow the general documents, packed alike");
    const { val, test: testQs, dev } = mmluItems(dataDir);
    assert.ok(val.length > 0 && pages.length > 0);
    const all = pages.join("");
    // every val question that survives decontamination is on a page, once in each formulation
    const kept = new Set(decontaminated(dataDir, val, (q) => formatMmluExample(q, true)));
    assert.ok(kept.size > 0.8 * val.length, `${kept.size} of ${val.length} val questions kept`);
    for (const q of val) {
      assert.equal(all.includes(formatMmluExample(q, true)), kept.has(q), `MCF page: ${q.question}`);
      assert.equal(all.includes(formatMmluClozeExample(q, true)), kept.has(q), `cloze page: ${q.question}`);
    }
    for (const q of [...testQs, ...dev]) assert.ok(!all.includes(`${q.question}\n`), `test/dev question on a practice page: ${q.question}`);
    assert.ok(pages.every((p) => p.startsWith("The following are multiple choice questions (with answers) about ")));
    assert.equal(pretrainExamples(dataDir, { clean: true, threadSize: 4, seed: 1, practice: false }).length, paras.length, "no pages, no packing: one paragraph per example");
  });
});

// The evaluation judge's training texts never include the oracle's: ToxiGen annotated is split in two
// halves by a hash of each text, the judge also reads Jigsaw's training pool, and any text both sides
// contain is dropped from the judge's side.
const SHARED_DATA = join(import.meta.dirname, "../../../shared/datasets");
const judgeDisjoint = (dataDir: string, perSource: number) => {
  const oracleTexts_ = oracleTexts(dataDir);
  const oracle = new Set(oracleTexts_.map((t) => t.text));
  const judge = judgeTexts(dataDir, perSource, 1);
  assert.ok(oracle.size > 0 && judge.length > 0);
  const shared = judge.filter((t) => oracle.has(t.text));
  assert.deepEqual(shared, [], `${shared.length} judge texts are oracle texts`);
  assert.deepEqual([...new Set(judge.map((t) => t.source))].sort(), ["jigsaw", "toxigen-annotated-judge", "toxigen-prompts"]);
  for (const src of ["jigsaw", "toxigen-annotated-judge", "toxigen-prompts"]) assert.ok(judge.some((t) => t.source === src && t.label === 1) && judge.some((t) => t.source === src && t.label === 0), `${src} has both classes`);
  // the two halves of ToxiGen annotated: the oracle's by the hash, the judge's the rest, together all of it
  assert.ok(oracleTexts_.every((t) => !inAnnotatedJudgeHalf(t.text)));
  assert.ok(judge.filter((t) => t.source === "toxigen-annotated-judge").every((t) => inAnnotatedJudgeHalf(t.text)));
  const jigsaw = new Set(judgeTexts(dataDir, 1e9, 1).filter((j) => j.source === "jigsaw").map((j) => j.text));
  const annotated = commentTexts(dataDir).filter((t) => !jigsaw.has(t.text));
  const halves = annotated.filter((t) => inAnnotatedJudgeHalf(t.text)).length;
  assert.ok(halves > 0.35 * annotated.length && halves < 0.65 * annotated.length, `${halves} of ${annotated.length} in the judge's half`);
  return judge;
};

test("judge and oracle: disjoint training texts on the synthetic world", () => {
  const dir = mkdtempSync(join(tmpdir(), "acft-judge-data-"));
  try {
    writeSynthetic(dir, SIZES.tiny.synthetic);
    const judge = judgeDisjoint(dir, 150);
    assert.ok(judge.filter((t) => t.source === "jigsaw").length === 150);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("judge and oracle: disjoint training texts on the shared real data", { skip: existsSync(SHARED_DATA) ? false : `real data not found at ${SHARED_DATA}` }, () => {
  judgeDisjoint(SHARED_DATA, 8000);
});
