// What the user sees for hostile or broken data: a 50 MB field is quoted cut to ~200 characters
// with its length (in errors, the check report and the CLI's output), an empty required file is an
// error naming dataset and file, invalid UTF-8 is reported once at its line and byte offset, and a
// data dir that does not exist (or is a file) is reported as such, with exit code 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Effect, Either } from "effect";
import { checkPassed, dataCheck } from "../../data/cli.ts";
import { firstInvalidUtf8 } from "../../data/dataset.ts";
import { boundMessage, DataDirMissing, EmptyDataFile, formatIssue, MalformedRecord, quote } from "../../data/errors.ts";
import { DATASETS, loadDataset, type DatasetName } from "../../data/registry.ts";
import { generalParagraphs } from "../../stages/corpora.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

const withDir = async (files: Record<string, string | Uint8Array>, body: (dir: string) => void | Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), "acft-integrity-"));
  try {
    for (const [rel, data] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), data);
    }
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/** `acft data check …` through the real entry point. */
const acft = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, "bin/acft.mjs"), ...args], { cwd: root, encoding: "utf8", env: { ...process.env, ACFT_DATA_DIR: "" }, maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

const strictError = (name: DatasetName, dir: string) => {
  const r = Effect.runSync(Effect.either(loadDataset(name, dir)));
  assert.ok(Either.isLeft(r), `strict read of ${name} must fail`);
  return r.left;
};

// ---------------------------------------------------------------------------------------------
// bounded messages

test("quote: short values whole, long ones cut to 200 characters with an ellipsis and their full length", () => {
  assert.equal(quote("abc"), '"abc"');
  assert.equal(quote("a\"b"), '"a\\"b"');
  assert.equal(quote(NaN), "NaN");
  assert.equal(quote([1, 2]), "[1,2]");
  const long = "x".repeat(52_428_800);
  assert.equal(quote(long), `"${"x".repeat(200)}…" (52,428,800 characters)`);
  assert.equal(quote(long, 3), '"xxx…" (52,428,800 characters)');
  assert.equal(quote(Array.from({ length: 1000 }, (_, i) => i)).length, 200 + "… (3,890 characters)".length);
  // a surrogate pair is never split
  assert.equal(quote("a😀😀", 2), '"a…" (5 characters)');
});

test("boundMessage: cuts each long quoted literal (escapes decoded for the count), then the whole", () => {
  const value = 'q"'.repeat(300);
  const msg = `Expected "0" | "1", actual ${JSON.stringify(value)}`;
  assert.equal(boundMessage(msg), `Expected "0" | "1", actual ${quote(value)}`);
  assert.match(boundMessage(msg), /\(600 characters\)$/);
  assert.equal(boundMessage("short \"ok\" message"), "short \"ok\" message");
  const unquoted = "y".repeat(5000);
  assert.equal(boundMessage(unquoted), `${"y".repeat(1000)}… (5,000 characters in all)`);
  assert.equal(boundMessage(`unclosed "${unquoted}`).length, 1000 + "… (5,010 characters in all)".length);
});

const MB50 = 50 * 1024 * 1024;
const jigsawHeader = "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n";

test("a 50 MB malformed CSV field: the error, the check report and `acft data check [--json]` stay small", async () => {
  const huge = "7".repeat(MB50);
  const csv = `${jigsawHeader}a1,fine,0,0,0,0,0,0\nb2,fine,${huge},0,0,0,0,0\nc3,fine,1,0,0,0,1,0\n`;
  await withDir({ "jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv": csv }, async (dir) => {
    const err = strictError("jigsaw", dir);
    assert.ok(err instanceof MalformedRecord);
    assert.deepEqual([err.issue.file, err.issue.line, err.issue.field], ["jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv", 3, "toxic"]);
    assert.ok(err.message.length < 2000, `message is ${err.message.length} characters`);
    assert.match(err.message, /actual "7{200}…" \(52,428,800 characters\)/);

    const lines: string[] = [];
    const report = await dataCheck({ dataDir: dir, json: true, log: (s) => lines.push(s) });
    assert.ok(!checkPassed(report));
    assert.equal(lines.length, 1);
    assert.ok(lines[0].length < 2000, `--json line is ${lines[0].length} characters`);
    assert.match(JSON.parse(lines[0]).datasets[0].errors[0].message, /\(52,428,800 characters\)/);

    const json = acft("data", "check", "--data-dir", dir, "--json");
    assert.equal(json.code, 1, json.stderr);
    assert.ok(json.stdout.length + json.stderr.length < 4000, `CLI printed ${json.stdout.length} + ${json.stderr.length} characters`);
    assert.deepEqual(JSON.parse(json.stdout.trim().split("\n").pop()!), JSON.parse(lines[0]));
    const text = acft("data", "check", "--data-dir", dir);
    assert.equal(text.code, 1);
    assert.ok(text.stdout.length + text.stderr.length < 4000, `CLI printed ${text.stdout.length} + ${text.stderr.length} characters`);
    assert.match(text.stdout, /FAIL jigsaw[\s\S]*train_10k\.csv:3: field "toxic": Expected "0", actual "7{200}…" \(52,428,800 characters\)/);
  });
});

test("a 50 MB JSONL line (bad JSON, or a bad value in a good object) gives a bounded error", async () => {
  const huge = "z".repeat(MB50);
  const arc = (key: string) => JSON.stringify({ id: "q", question: { stem: "s?", choices: [{ text: "a", label: "A" }, { text: "b", label: "B" }] }, answerKey: key });
  await withDir({
    "arc/ARC-Easy/ARC-Easy-Dev.jsonl": `${arc("A")}\n{"id": "${huge}\n`,
    "arc/ARC-Easy/ARC-Easy-Test.jsonl": `${arc("A")}\n${arc(huge)}\n`,
  }, (dir) => {
    const d = DATASETS["arc-easy"].read(dir, { skipBad: true });
    assert.deepEqual(d.errors.map((e) => [e.file, e.line, e.field]), [["arc/ARC-Easy/ARC-Easy-Dev.jsonl", 2, "json"], ["arc/ARC-Easy/ARC-Easy-Test.jsonl", 2, "answerKey"]]);
    for (const e of d.errors) assert.ok(formatIssue(e).length < 2000, `${e.field}: ${formatIssue(e).length} characters`);
  });
});

// ---------------------------------------------------------------------------------------------
// empty required files

const annotatedHeader = "text,target_group,factual?,ingroup_effect,lewd,framing,predicted_group,stereotyping,intent,toxicity_ai,toxicity_human,predicted_author,label,actual_method\n";
const rtpLine = JSON.stringify({ filename: "f", begin: 0, end: 1, challenging: true, prompt: { text: "p", toxicity: 0.5 }, continuation: { text: "c" } });
const arcLine = JSON.stringify({ id: "q", question: { stem: "s?", choices: [{ text: "a", label: "A" }, { text: "b", label: "B" }] }, answerKey: "A" });
const wiki = { "wikitext-2/train.txt": " \n = T = \n a \n", "wikitext-2/valid.txt": " b \n", "wikitext-2/test.txt": " c \n" };

interface EmptyCase { name: DatasetName; files: Record<string, string>; file: string; detail: string; role: string }
const EMPTY: EmptyCase[] = [
  { name: "wikitext-2", files: { ...wiki, "wikitext-2/train.txt": "" }, file: "wikitext-2/train.txt", detail: "0 bytes", role: "the train split" },
  { name: "wikitext-2", files: { ...wiki, "wikitext-2/train.txt": " \n \r\n\n" }, file: "wikitext-2/train.txt", detail: "only blank lines", role: "the train split" },
  { name: "wikitext-2", files: { ...wiki, "wikitext-2/test.txt": "\n" }, file: "wikitext-2/test.txt", detail: "only blank lines", role: "the test split" },
  { name: "toxigen-prompts", files: { "toxigen/prompts/hate_games_1k.txt": "- a\\n-\n", "toxigen/prompts/neutral_games_1k.txt": "" }, file: "toxigen/prompts/neutral_games_1k.txt", detail: "0 bytes", role: "the neutral prompts for games" },
  { name: "toxigen-annotated", files: { "toxigen/annotated/annotated_train.csv": annotatedHeader }, file: "toxigen/annotated/annotated_train.csv", detail: "a header and no rows", role: "the annotated train split" },
  { name: "toxigen-safenlp", files: { "toxigen/safenlp/toxiGen.json": "[\r\n]\r\n" }, file: "toxigen/safenlp/toxiGen.json", detail: "an empty JSON array", role: "the evaluation prompts" },
  { name: "jigsaw", files: { "jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv": jigsawHeader }, file: "jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv", detail: "a header and no rows", role: "the comments file" },
  { name: "jigsaw-head267", files: { "jigsaw_toxic/practical_nlp_head267/train.csv": "\n\n" }, file: "jigsaw_toxic/practical_nlp_head267/train.csv", detail: "only blank lines", role: "the comments file" },
  { name: "realtoxicityprompts", files: { "realtoxicityprompts/decodingtrust_toxic.jsonl": `${rtpLine}\n`, "realtoxicityprompts/decodingtrust_nontoxic.jsonl": "" }, file: "realtoxicityprompts/decodingtrust_nontoxic.jsonl", detail: "0 bytes", role: "the nontoxic subset" },
  { name: "mmlu", files: { "mmlu/dev/x_dev.csv": "q,a,b,c,d,A\n", "mmlu/test/README": "no csv here" }, file: "mmlu/test", detail: "no <subject>_test.csv files", role: "the test split" },
  { name: "mmlu", files: { "mmlu/dev/x_dev.csv": "\r\n", "mmlu/test/x_test.csv": "q,a,b,c,d,A\n" }, file: "mmlu/dev/x_dev.csv", detail: "only blank lines", role: "the dev questions of x" },
  { name: "piqa", files: { "piqa/valid.jsonl": "", "piqa/valid-labels.lst": "" }, file: "piqa/valid.jsonl", detail: "0 bytes", role: "the validation set" },
  { name: "arc-challenge", files: { "arc/ARC-Challenge/ARC-Challenge-Dev.jsonl": `${arcLine}\n`, "arc/ARC-Challenge/ARC-Challenge-Test.jsonl": "\n\n" }, file: "arc/ARC-Challenge/ARC-Challenge-Test.jsonl", detail: "only blank lines", role: "the Test split" },
  { name: "winogrande", files: { "winogrande/dev.jsonl": "", "winogrande/dev-labels.lst": "" }, file: "winogrande/dev.jsonl", detail: "0 bytes", role: "the dev set" },
];

for (const c of EMPTY) {
  test(`${c.name}: ${c.file} with ${c.detail} is EmptyDataFile (strict), a listed error (skipBad) and a failed data check`, async () => {
    await withDir(c.files, async (dir) => {
      const err = strictError(c.name, dir);
      assert.ok(err instanceof EmptyDataFile, `expected EmptyDataFile, got ${err._tag}: ${err.message}`);
      assert.deepEqual([err.dataset, err.file, err.detail, err.role], [c.name, c.file, c.detail, c.role]);
      assert.equal(err.message, `dataset ${c.name}: ${c.file} in ${dir} is empty (${c.detail}), but ${c.role} is required. Restore the file (\`acft data fetch --data-dir DIR\` downloads the public files and checks their sha256) or point --data-dir at a complete copy.`);
      const lenient = DATASETS[c.name].read(dir, { skipBad: true });
      assert.deepEqual(lenient.errors.map((e) => [e.file, e.line, e.field]), [[c.file, 0, "file"]]);
      const lines: string[] = [];
      const report = await dataCheck({ dataDir: dir, log: (s) => lines.push(s) });
      assert.ok(!checkPassed(report));
      assert.ok(lines.some((l) => l.includes(`FAIL ${c.name}`)), lines.join("\n"));
      assert.ok(lines.some((l) => l.includes(`${c.file}: field "file": is empty (${c.detail}), but ${c.role} is required`)), lines.join("\n"));
    });
  });
}

test("an empty WikiText train split stops the stages before any training: the corpus they read fails", async () => {
  await withDir({ ...wiki, "wikitext-2/train.txt": " \n\n" }, (dir) => {
    assert.throws(() => generalParagraphs(dir, "train"), /wikitext-2\/train\.txt in .* is empty \(only blank lines\), but the train split is required/);
  });
});

test("optional parts may be absent or empty: MMLU without val, a val dir without files", async () => {
  await withDir({ "mmlu/dev/x_dev.csv": "q,a,b,c,d,A\n", "mmlu/test/x_test.csv": "q,a,b,c,d,B\n", "mmlu/val/README": "" }, (dir) => {
    const d = Effect.runSync(loadDataset("mmlu", dir));
    assert.equal(d.records.length, 2);
  });
});

// ---------------------------------------------------------------------------------------------
// invalid UTF-8

test("firstInvalidUtf8 agrees with TextDecoder's fatal mode on random byte strings", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const lossy = new TextDecoder("utf-8");
  const valid = (b: Uint8Array) => { try { fatal.decode(b); return true; } catch { return false; } };
  let state = 12345;
  const rand = (n: number) => { state = (state * 1103515245 + 12345) >>> 0; return state % n; };
  const pieces = ["a", "é", "€", "😀", "\n"].map((s) => [...new TextEncoder().encode(s)]);
  let invalid = 0;
  for (let t = 0; t < 3000; t++) {
    const bytes: number[] = [];
    for (let k = rand(12); k > 0; k--) {
      if (rand(6) === 0) bytes.push(rand(256));
      else if (rand(8) === 0) bytes.push(...pieces[rand(pieces.length)].slice(0, 1 + rand(3)));
      else bytes.push(...pieces[rand(pieces.length)]);
    }
    const b = new Uint8Array(bytes);
    const at = firstInvalidUtf8(b);
    if (at < 0) { assert.ok(valid(b), `valid per scanner, not per TextDecoder: ${bytes}`); continue; }
    invalid++;
    // the scanner stops at a sequence boundary with a valid prefix, and a lossy decoder puts its
    // first replacement character exactly there (so it is neither too early nor too late)
    assert.ok(valid(b.subarray(0, at)), `prefix before ${at} must decode: ${bytes}`);
    const prefix = lossy.decode(b.subarray(0, at));
    assert.equal(lossy.decode(b).slice(0, prefix.length + 1), prefix + "\uFFFD", `${bytes}`);
  }
  assert.ok(invalid > 500, `only ${invalid} invalid cases drawn`);
  for (const [bytes, at] of [[[0xc0, 0x80], 0], [[0x61, 0xed, 0xa0, 0x80], 1], [[0xf4, 0x90, 0x80, 0x80], 0], [[0x61, 0xe2, 0x82], 1], [[0xe2, 0x82, 0xac], -1],
    // the edges of the special second-byte ranges: U+0800, U+D7FF, U+10000, U+10FFFF valid; an overlong 3-byte form not
    [[0xe0, 0xa0, 0x80], -1], [[0xed, 0x9f, 0xbf], -1], [[0xf0, 0x90, 0x80, 0x80], -1], [[0xf4, 0x8f, 0xbf, 0xbf], -1], [[0x0a, 0xe0, 0x9f, 0x80], 1]] as const) {
    assert.equal(firstInvalidUtf8(new Uint8Array(bytes)), at, `${bytes}`);
    assert.equal(at < 0, valid(new Uint8Array(bytes)), `${bytes}`);
  }
});

const latin1 = (s: string) => Buffer.from(s, "latin1");

test("invalid UTF-8 is reported once, at the line and byte offset of the first bad byte", async () => {
  const valid = " ok \n é \n";
  const bad = Buffer.concat([Buffer.from(valid), latin1(" caf\xe9 \n second bad \xff\n")]);
  const badOffset = Buffer.byteLength(valid) + 4;
  await withDir({ ...wiki, "wikitext-2/valid.txt": bad }, async (dir) => {
    const err = strictError("wikitext-2", dir);
    assert.ok(err instanceof MalformedRecord);
    assert.deepEqual([err.issue.file, err.issue.line, err.issue.field], ["wikitext-2/valid.txt", 3, "encoding"]);
    assert.match(err.message, new RegExp(`wikitext-2/valid\\.txt:3: field "encoding": invalid UTF-8 at byte offset ${badOffset} \\(bytes e9 20 0a 20\\)`));
    const lines: string[] = [];
    const report = await dataCheck({ dataDir: dir, json: true, log: (s) => lines.push(s) });
    assert.deepEqual(report.datasets[0].errors.map((e) => [e.file, e.line, e.field]), [["wikitext-2/valid.txt", 3, "encoding"]]);
  });
  // JSONL read twice by its reader (records and the label alignment check): still one error
  const first = '{"goal": "g", "sol1": "a", "sol2": "b"}\n';
  await withDir({ "piqa/valid.jsonl": Buffer.concat([Buffer.from(first), latin1('{"goal": "\xe9", "sol1": "a", "sol2": "b"}\n')]), "piqa/valid-labels.lst": "0\n1\n" }, (dir) => {
    const d = DATASETS.piqa.read(dir, { skipBad: true });
    assert.deepEqual(d.errors.map((e) => [e.file, e.line, e.field]), [["piqa/valid.jsonl", 2, "encoding"]]);
    assert.match(d.errors[0].message, new RegExp(`^invalid UTF-8 at byte offset ${first.length + 10} \\(bytes e9 22 2c 20\\)`));
  });
});

// ---------------------------------------------------------------------------------------------
// the data dir itself

test("a data dir that does not exist or is a file is reported as such (API and CLI, exit 1), not as 'no dataset found'", async () => {
  await withDir({ "a-file": "x" }, async (dir) => {
    const missing = join(dir, "nope");
    await assert.rejects(dataCheck({ dataDir: missing, log: () => {} }), (e: unknown) => {
      assert.ok(e instanceof DataDirMissing);
      assert.match(e.message, new RegExp(`^data directory ${missing} does not exist; pass --data-dir DIR`));
      return true;
    });
    const file = join(dir, "a-file");
    await assert.rejects(dataCheck({ dataDir: file, log: () => {} }), /is not a directory; pass --data-dir/);
    const viaLoad = Effect.runSync(Effect.either(loadDataset("wikitext-2", missing)));
    assert.ok(Either.isLeft(viaLoad) && viaLoad.left._tag === "DataDirMissing");

    for (const [path, what, json] of [[missing, "does not exist", []], [file, "is not a directory", ["--json"]]] as const) {
      const r = acft("data", "check", "--data-dir", path, ...json);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, new RegExp(`^acft data check: DataDirMissing: data directory ${path} ${what}; pass --data-dir DIR`));
      assert.doesNotMatch(r.stderr, /no known dataset/);
    }
    // a malformed command line stays a usage error (2)
    assert.equal(acft("data", "chek", "--data-dir", dir).code, 2);
  });
});
