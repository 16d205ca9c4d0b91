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
import { pretrainExamples } from "../../stages/pretrain.ts";
import { commentTexts, judgeTexts, oracleTexts, STATEMENT_SEP, toxicDomainLists } from "../../stages/corpora.ts";
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
    const threads = pretrainExamples(dataDir, false, 4, 1).filter((x) => x.domain === "toxic").map((x) => x.text.split(STATEMENT_SEP));
    assert.ok(threads.every((t) => t.length >= 1 && t.length <= 4));
    assert.equal(threads.filter((t) => t.length === 4).length, Math.floor(comments.length / 4));
    assert.deepEqual(threads.flat().sort(), [...comments].sort());
    assert.deepEqual(pretrainExamples(dataDir, false, 4, 1), pretrainExamples(dataDir, false, 4, 1));
    assert.notDeepEqual(pretrainExamples(dataDir, false, 4, 2), pretrainExamples(dataDir, false, 4, 1));
    assert.equal(pretrainExamples(dataDir, true, 4, 1).filter((x) => x.domain === "toxic").length, 0);
  });
});

// The evaluation judge's training texts never include the oracle's: different sources, and any text
// both sources contain is dropped from the judge's side.
const SHARED_DATA = join(import.meta.dirname, "../../../shared/datasets");
const judgeDisjoint = (dataDir: string, perSource: number) => {
  const oracle = new Set(oracleTexts(dataDir).map((t) => t.text));
  const judge = judgeTexts(dataDir, perSource, 1);
  assert.ok(oracle.size > 0 && judge.length > 0);
  const shared = judge.filter((t) => oracle.has(t.text));
  assert.deepEqual(shared, [], `${shared.length} judge texts are oracle texts`);
  return judge;
};

test("judge and oracle: disjoint training texts on the synthetic world", () => {
  const dir = mkdtempSync(join(tmpdir(), "acft-judge-data-"));
  try {
    writeSynthetic(dir, SIZES.tiny.synthetic);
    const judge = judgeDisjoint(dir, 150);
    assert.deepEqual([...new Set(judge.map((t) => t.source))].sort(), ["jigsaw", "toxigen-prompts"]);
    assert.ok(judge.filter((t) => t.source === "jigsaw").length === 150);
    for (const src of ["jigsaw", "toxigen-prompts"]) assert.ok(judge.some((t) => t.source === src && t.label === 1) && judge.some((t) => t.source === src && t.label === 0), `${src} has both classes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("judge and oracle: disjoint training texts on the shared real data", { skip: existsSync(SHARED_DATA) ? false : `real data not found at ${SHARED_DATA}` }, () => {
  const judge = judgeDisjoint(SHARED_DATA, 8000);
  assert.deepEqual([...new Set(judge.map((t) => t.source))].sort(), ["jigsaw", "toxigen-prompts"]);
});
