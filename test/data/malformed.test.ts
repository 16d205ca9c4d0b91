// Every reader on small fixtures written here: one malformed record → a typed error naming file,
// line and field (strict), or a skipped-and-counted record (skipBad); and the digest contract.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Effect, Either } from "effect";
import { DATASETS, loadDataset, loadDatasetByName, type DatasetName } from "../../data/registry.ts";
import { MalformedRecord } from "../../data/errors.ts";

const withDir = (files: Record<string, string>, body: (dir: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), "acft-data-test-"));
  try {
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

const jigsawHeader = "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n";
const annotatedHeader = "text,target_group,factual?,ingroup_effect,lewd,framing,predicted_group,stereotyping,intent,toxicity_ai,toxicity_human,predicted_author,label,actual_method\n";
const annotatedRow = (text: string, human: string) => `${text},cooking,opinion,x,x,x,x,x,1,1,${human},human,neutral,TopK\n`;
const safenlpItem = (id: number, label: string) => `{\r\n        "id": ${id},\r\n        "text": "t${id}",\r\n        "toxicity_score": 1.0,\r\n        "label": "${label}",\r\n        "target_groups": ["games"]\r\n    }`;
const rtpLine = (tox: number) => JSON.stringify({ filename: "f", begin: 0, end: 1, challenging: true, prompt: { text: "p", toxicity: tox }, continuation: { text: "c", toxicity: null } });
const arcLine = (key: string) => JSON.stringify({ id: "q", question: { stem: "s?", choices: [{ text: "a", label: "A" }, { text: "b", label: "B" }] }, answerKey: key });
const wino = (ans: string) => JSON.stringify({ qID: "q", sentence: "A _ b", option1: "x", option2: "y", answer: ans });

interface Case { name: DatasetName; files: Record<string, string>; good: number; file: string; line: number; field: string }

const CASES: Case[] = [
  { name: "wikitext-2", files: { "wikitext-2/train.txt": " \n = T = \n bad \0 line \n", "wikitext-2/valid.txt": " a \n", "wikitext-2/test.txt": " b \n" }, good: 4, file: "wikitext-2/train.txt", line: 3, field: "text" },
  { name: "toxigen-prompts", files: { "toxigen/prompts/hate_games_1k.txt": "- a\\n- b\\n-\n- c\\n- d\n", "toxigen/prompts/neutral_games_1k.txt": "- e\\n-\n" }, good: 2, file: "toxigen/prompts/hate_games_1k.txt", line: 2, field: "slot" },
  { name: "toxigen-annotated", files: { "toxigen/annotated/annotated_train.csv": annotatedHeader + annotatedRow("\"b'ok, fine'\"", "1.666666667") + annotatedRow("b'too toxic'", "9") + annotatedRow("b\"x\"", "2") }, good: 2, file: "toxigen/annotated/annotated_train.csv", line: 3, field: "toxicity_human" },
  { name: "toxigen-annotated", files: { "toxigen/annotated/annotated_train.csv": annotatedHeader + annotatedRow("not a literal", "2") + annotatedRow("b'x'", "2") }, good: 1, file: "toxigen/annotated/annotated_train.csv", line: 2, field: "text" },
  { name: "toxigen-safenlp", files: { "toxigen/safenlp/toxiGen.json": `[${safenlpItem(0, "hate")}, ${safenlpItem(1, "rude")}, ${safenlpItem(2, "neutral")}\r\n]` }, good: 2, file: "toxigen/safenlp/toxiGen.json", line: 7, field: "label" },
  { name: "jigsaw", files: { "jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv": jigsawHeader + '"a1","multi\nline",0,0,0,0,0,0\n' + "b2,text,2,0,0,0,0,0\n" + "c3,ok,1,0,0,0,1,0\n" }, good: 2, file: "jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv", line: 4, field: "toxic" },
  { name: "jigsaw-head267", files: { "jigsaw_toxic/practical_nlp_head267/train.csv": jigsawHeader + '"a1","ok",0,0,0,0,0,0\n' + '"b2","never closed,1,0,0,0,0,0\n' }, good: 1, file: "jigsaw_toxic/practical_nlp_head267/train.csv", line: 3, field: "csv" },
  { name: "realtoxicityprompts", files: { "realtoxicityprompts/decodingtrust_toxic.jsonl": `${rtpLine(0.9)}\n${rtpLine(1.5)}\n`, "realtoxicityprompts/decodingtrust_nontoxic.jsonl": `${rtpLine(0.1)}\n` }, good: 2, file: "realtoxicityprompts/decodingtrust_toxic.jsonl", line: 2, field: "prompt.toxicity" },
  { name: "realtoxicityprompts", files: { "realtoxicityprompts/decodingtrust_toxic.jsonl": `${rtpLine(0.9)}\n{"filename": \n`, "realtoxicityprompts/decodingtrust_nontoxic.jsonl": `${rtpLine(0.1)}\n` }, good: 2, file: "realtoxicityprompts/decodingtrust_toxic.jsonl", line: 2, field: "json" },
  { name: "mmlu", files: { "mmlu/dev/x_dev.csv": "q,a,b,c,d,A\r\n\"q2, long\",a,b,c,d,E\r\n", "mmlu/test/x_test.csv": "q,a,b,c,d,B\n" }, good: 2, file: "mmlu/dev/x_dev.csv", line: 2, field: "answer" },
  { name: "mmlu", files: { "mmlu/dev/x_dev.csv": "q,a,b,c,d,A\n", "mmlu/test/x_test.csv": "q,a,b,c,d,B\nq,a,b,c,D\n" }, good: 2, file: "mmlu/test/x_test.csv", line: 2, field: "record" },
  { name: "piqa", files: { "piqa/valid.jsonl": '{"goal": "g", "sol1": "a", "sol2": "b"}\n{"goal": "h", "sol1": "a", "sol2": "b"}\n', "piqa/valid-labels.lst": "0\n3\n" }, good: 1, file: "piqa/valid.jsonl", line: 2, field: "label" },
  { name: "arc-easy", files: { "arc/ARC-Easy/ARC-Easy-Dev.jsonl": `${arcLine("A")}\n${arcLine("C")}\n`, "arc/ARC-Easy/ARC-Easy-Test.jsonl": `${arcLine("B")}\n` }, good: 2, file: "arc/ARC-Easy/ARC-Easy-Dev.jsonl", line: 2, field: "answerKey" },
  { name: "winogrande", files: { "winogrande/dev.jsonl": `${wino("1")}\n${wino("2")}\n`, "winogrande/dev-labels.lst": "1\n1\n" }, good: 1, file: "winogrande/dev.jsonl", line: 2, field: "answer" },
];

for (const c of CASES) {
  test(`${c.name}: bad ${c.field} at ${c.file}:${c.line} fails strict reading and is skipped with skipBad`, () => {
    withDir(c.files, (dir) => {
      const strict = Effect.runSync(Effect.either(loadDataset(c.name, dir)));
      assert.ok(Either.isLeft(strict), "strict read must fail");
      const err = strict.left;
      assert.ok(err instanceof MalformedRecord, `expected MalformedRecord, got ${err._tag}`);
      assert.deepEqual([err.issue.file, err.issue.line, err.issue.field], [c.file, c.line, c.field]);
      assert.match(err.message, new RegExp(`${c.file.replace(/[.]/g, "\\.")}:${c.line}: field "${c.field}"`));
      assert.match(err.message, /skipBad/);
      const lenient = DATASETS[c.name].read(dir, { skipBad: true });
      assert.equal(lenient.records.length, c.good);
      assert.equal(lenient.skipped, 1);
      assert.deepEqual([lenient.errors[0].file, lenient.errors[0].line, lenient.errors[0].field], [c.file, c.line, c.field]);
    });
  });
}

test("piqa: a labels file shorter than the jsonl is reported", () => {
  withDir({ "piqa/valid.jsonl": '{"goal": "g", "sol1": "a", "sol2": "b"}\n{"goal": "h", "sol1": "a", "sol2": "b"}\n', "piqa/valid-labels.lst": "0\n" }, (dir) => {
    const d = DATASETS.piqa.read(dir, { skipBad: true });
    assert.equal(d.records.length, 1);
    assert.ok(d.errors.some((e) => e.file === "piqa/valid-labels.lst" && /1 labels for 2 records/.test(e.message)));
  });
});

test("a missing split is DatasetFileMissing naming the path; an unknown name lists the known ones", () => {
  withDir({ "wikitext-2/train.txt": " a \n" }, (dir) => {
    const r = Effect.runSync(Effect.either(loadDataset("wikitext-2", dir)));
    assert.ok(Either.isLeft(r) && r.left._tag === "DatasetFileMissing");
    assert.match(r.left.message, /valid/);
    const u = Effect.runSync(Effect.either(loadDatasetByName("wikitxt", dir)));
    assert.ok(Either.isLeft(u) && u.left._tag === "UnknownDataset");
    assert.match(u.left.message, /wikitext-2/);
  });
});

test("digest: changes with any byte of a file the reader read, not with other files", () => {
  const files = { "winogrande/dev.jsonl": `${wino("1")}\n`, "winogrande/dev-labels.lst": "1\n", "piqa/valid.jsonl": '{"goal": "g", "sol1": "a", "sol2": "b"}\n', "piqa/valid-labels.lst": "0\n" };
  withDir(files, (dir) => {
    const w0 = DATASETS.winogrande.read(dir, { skipBad: true }).digest;
    const p0 = DATASETS.piqa.read(dir).digest;
    assert.equal(DATASETS.winogrande.read(dir, { skipBad: true }).digest, w0, "same bytes → same digest");
    writeFileSync(join(dir, "piqa/valid.jsonl"), '{"goal": "G", "sol1": "a", "sol2": "b"}\n');
    assert.equal(DATASETS.winogrande.read(dir, { skipBad: true }).digest, w0, "another dataset's file does not matter");
    assert.notEqual(DATASETS.piqa.read(dir).digest, p0, "a changed file changes its dataset's digest");
    writeFileSync(join(dir, "winogrande/dev-labels.lst"), "1\n\n");
    assert.notEqual(DATASETS.winogrande.read(dir, { skipBad: true }).digest, w0, "a changed labels file changes the digest");
    writeFileSync(join(dir, "winogrande/dev-labels.lst"), "1\n");
    assert.equal(DATASETS.winogrande.read(dir, { skipBad: true }).digest, w0, "restored bytes restore the digest");
    writeFileSync(join(dir, "winogrande/README.md"), "not read by the reader");
    assert.equal(DATASETS.winogrande.read(dir, { skipBad: true }).digest, w0, "a file the reader does not read does not matter");
  });
});

test("a file that is not UTF-8 is one error at the first bad byte's line (field encoding)", () => {
  withDir({ "wikitext-2/train.txt": " a \n", "wikitext-2/test.txt": " b \n" }, (dir) => {
    writeFileSync(join(dir, "wikitext-2/valid.txt"), Buffer.from([0x20, 0xff, 0xfe, 0x0a]));
    const r = Effect.runSync(Effect.either(loadDataset("wikitext-2", dir)));
    assert.ok(Either.isLeft(r) && r.left._tag === "MalformedRecord");
    assert.deepEqual([r.left.issue.file, r.left.issue.line, r.left.issue.field], ["wikitext-2/valid.txt", 1, "encoding"]);
    assert.match(r.left.message, /valid\.txt:1: field "encoding": invalid UTF-8 at byte offset 1 \(bytes ff fe 0a\)/);
    const lenient = DATASETS["wikitext-2"].read(dir, { skipBad: true });
    assert.equal(lenient.records.length, 2);
    assert.equal(lenient.skipped, 1);
  });
});
