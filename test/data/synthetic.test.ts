// The synthetic mini-world: byte-identical for a seed, readable by the real readers with zero
// errors, MMLU answers stated in the general corpus, toxicity learnable from the text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DATASETS, DATASET_NAMES, datasetPresent } from "../../data/registry.ts";
import { buildSynthetic, ensureSynthetic, syntheticConfig, writeSynthetic } from "../../data/synthetic/generate.ts";
import { statSync } from "node:fs";
import { EVERYDAY } from "../../data/synthetic/everyday.ts";

const world = buildSynthetic();
const train = world.files.get("wikitext-2/train.txt")!;
const sentences = train.split(/ \. | \n/).map((s) => ` ${s} `);

const hashDir = (dir: string, paths: Iterable<string>) =>
  [...paths].sort().map((p) => `${p}:${createHash("sha256").update(readFileSync(join(dir, p))).digest("hex")}`).join("\n");

test("same seed → byte-identical files on disk; another seed → different corpus", () => {
  const [a, b] = [mkdtempSync(join(tmpdir(), "acft-syn-a-")), mkdtempSync(join(tmpdir(), "acft-syn-b-"))];
  try {
    const wa = writeSynthetic(a, { seed: 7 });
    writeSynthetic(b, { seed: 7 });
    assert.equal(hashDir(a, wa.files.keys()), hashDir(b, wa.files.keys()));
    const other = buildSynthetic({ seed: 8 });
    assert.notEqual(other.files.get("wikitext-2/train.txt"), wa.files.get("wikitext-2/train.txt"));
    assert.notEqual(other.files.get("toxigen/annotated/annotated_train.csv"), wa.files.get("toxigen/annotated/annotated_train.csv"));
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test("the real readers read every synthetic dataset with zero errors and the configured sizes", () => {
  const dir = mkdtempSync(join(tmpdir(), "acft-syn-"));
  try {
    const s = writeSynthetic(dir);
    const c = s.config;
    const found = DATASET_NAMES.filter((n) => datasetPresent(n, dir));
    assert.deepEqual(found, ["wikitext-2", "toxigen-prompts", "toxigen-annotated", "toxigen-safenlp", "jigsaw", "mmlu", "piqa", "arc-easy", "arc-challenge", "winogrande"]);
    for (const n of found) assert.equal(DATASETS[n].read(dir).errors.length, 0, n);
    const ann = DATASETS["toxigen-annotated"].read(dir).records;
    assert.equal(ann.length, c.forumComments);
    assert.equal(ann.filter((r) => r.toxicity_human > 3).length, Math.round(c.forumComments * c.toxicFraction));
    assert.ok(ann.every((r) => (r.toxicity_human > 3) === (r.label === "hate")));
    assert.equal(DATASETS["toxigen-safenlp"].read(dir).records.length, c.evalPrompts);
    assert.equal(DATASETS["toxigen-prompts"].read(dir).records.length, 16 * c.promptsPerFile);
    const jig = DATASETS.jigsaw.read(dir).records;
    assert.equal(jig.length, c.jigsawComments);
    assert.ok(jig.some((r) => r.comment_text.includes("\n")), "some Jigsaw-like rows have embedded newlines");
    const mmlu = DATASETS.mmlu.read(dir).records;
    assert.equal(mmlu.filter((q) => q.split === "dev").length, 15);
    assert.equal(mmlu.filter((q) => q.split === "test").length, 3 * c.mmluTestPerSubject);
    assert.equal(mmlu.filter((q) => q.split === "val").length, 3 * c.mmluValPerSubject);
    assert.equal(DATASETS.piqa.read(dir).records.length, c.piqaItems);
    assert.equal(DATASETS["arc-easy"].read(dir).records.length, c.arcEasyItems);
    assert.equal(DATASETS["arc-challenge"].read(dir).records.filter((q) => q.split === "dev").length, c.arcChallengeItems / 5);
    assert.equal(DATASETS.winogrande.read(dir).records.length, c.winograndeItems);
    const wt = DATASETS["wikitext-2"].read(dir).records;
    const chars = (split: string) => wt.filter((l) => l.split === split).reduce((a, l) => a + l.text.length + 1, 0);
    assert.ok(chars("train") > 150_000 && chars("train") < 600_000, `train corpus ${chars("train")} chars`);
    assert.ok(chars("valid") > 5_000 && chars("test") > 5_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every MMLU answer is a fact stated in one sentence of the general train corpus", () => {
  let n = 0;
  const letters = { A: 0, B: 0, C: 0, D: 0 };
  for (const { dev, test: qs } of Object.values(world.mmlu)) {
    for (const q of [...dev, ...qs]) {
      const answer = q.choices["ABCD".indexOf(q.answer)];
      assert.ok(answer.includes(q.fact.object), `answer ${answer} shows the fact's object`);
      assert.ok(q.question.includes(q.fact.subject));
      assert.ok(sentences.some((s) => s.includes(q.fact.subject) && s.includes(` ${q.fact.object} `)), `no train sentence states ${q.fact.subject} → ${q.fact.object}`);
      assert.equal(new Set(q.choices).size, 4, "four distinct choices");
      letters[q.answer] += 1;
      n += 1;
    }
  }
  assert.equal(n, 15 + 3 * world.config.mmluTestPerSubject);
  for (const k of Object.values(letters)) assert.ok(k > n * 0.15, `answer letters are spread: ${JSON.stringify(letters)}`);
  const devQ = new Set(Object.values(world.mmlu).flatMap((m) => m.dev.map((q) => q.question)));
  assert.ok(Object.values(world.mmlu).every((m) => m.test.every((q) => !devQ.has(q.question))), "dev and test ask different questions");
});

test("MMLU val questions ask facts no dev or test question asks; more val questions leave dev and test as they were", () => {
  const key = (q: { fact: { subject: string; relation: string } }) => `${q.fact.subject}\0${q.fact.relation}`;
  for (const m of Object.values(world.mmlu)) {
    const asked = new Set([...m.dev, ...m.test].map(key));
    assert.equal(m.val.length, world.config.mmluValPerSubject);
    assert.ok(m.val.every((q) => !asked.has(key(q))), "a val question asks a dev/test fact");
    assert.equal(new Set(m.val.map(key)).size, m.val.length, "val questions are on distinct facts");
  }
  const fewer = buildSynthetic({ mmluValPerSubject: 3 });
  assert.deepEqual(Object.values(fewer.mmlu).map((m) => [m.dev, m.test]), Object.values(world.mmlu).map((m) => [m.dev, m.test]));
});

test("trivia pages ask and answer every training fact, never in an MMLU question's words", () => {
  const faqWorld = buildSynthetic({ faqPages: true });
  const faqTrain = faqWorld.files.get("wikitext-2/train.txt")!;
  const faqLines = faqTrain.split("\n").filter((l) => / \? /.test(l));
  assert.ok(faqLines.length >= world.facts.length, `${faqLines.length} question lines for ${world.facts.length} facts`);
  for (const f of world.facts.slice(0, 200))
    assert.ok(faqLines.some((l) => l.includes(` ${f.subject} `) && l.includes(` ${f.object} `)), `no trivia line for ${f.subject} → ${f.object}`);
  for (const m of Object.values(world.mmlu))
    for (const q of [...m.dev, ...m.test, ...m.val]) assert.ok(!faqTrain.includes(q.question.replace("?", " ?")) && !faqTrain.includes(q.question), q.question);
  assert.ok(!train.includes("Questions about"), "off by default");
});

test("articleVersions restates every training article in another wording and keeps the first version as it was", () => {
  const small = { people: 40, cities: 20, inventions: 10, rivers: 8 };
  const one = buildSynthetic({ ...small, faqPages: false }).files.get("wikitext-2/train.txt")!;
  const three = buildSynthetic({ ...small, faqPages: false, articleVersions: 3 }).files.get("wikitext-2/train.txt")!;
  const titles = (t: string) => t.split("\n").filter((l) => /^ = [^=].* = $/.test(l));
  const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const c1 = count(titles(one)), c3 = count(titles(three));
  for (const [t, n] of c1) assert.equal(c3.get(t), t === " = Everyday tools = " ? n : 3 * n, t);
  // every paragraph of the single-version corpus is still there, and the others add new wordings
  const lines3 = new Set(three.split("\n"));
  assert.ok(one.split("\n").every((l) => lines3.has(l)));
  assert.ok(new Set(three.split("\n")).size > 1.5 * new Set(one.split("\n")).size, "the versions are worded differently");
});

test("held-out people appear only in valid/test; PIQA's right tool is stated for its task in train", () => {
  const held = world.world.people.filter((p) => p.heldOut);
  assert.ok(held.length > 20);
  const evalText = world.files.get("wikitext-2/valid.txt")! + world.files.get("wikitext-2/test.txt")!;
  for (const p of held) {
    assert.ok(!train.includes(p.name), `${p.name} leaks into train`);
    assert.ok(evalText.includes(p.name));
  }
  const items = world.files.get("piqa/valid.jsonl")!.trim().split("\n").map((l) => JSON.parse(l) as { goal: string; sol1: string; sol2: string });
  const labels = world.files.get("piqa/valid-labels.lst")!.trim().split("\n").map(Number);
  items.forEach((it, i) => {
    const k = EVERYDAY.find((e) => it.goal.toLowerCase().includes(e.task))!;
    const right = labels[i] === 0 ? it.sol1 : it.sol2;
    const wrong = labels[i] === 0 ? it.sol2 : it.sol1;
    assert.ok(right.includes(k.good) && wrong.includes(k.bad), JSON.stringify(it));
    assert.ok(sentences.some((s) => s.includes(k.task) && s.includes(k.good) && !s.includes("bad idea")));
  });
});

/** Words with toxic rate > 0.9 (count ≥ 5) learned on one half, used as a lexicon on the other. */
const lexiconAccuracy = (rows: { text: string; toxic: boolean }[]): number => {
  const half = Math.floor(rows.length / 2);
  const stats = new Map<string, [number, number]>();
  for (const r of rows.slice(0, half)) for (const w of new Set(r.text.split(/\W+/))) {
    const s = stats.get(w) ?? [0, 0];
    s[r.toxic ? 0 : 1] += 1;
    stats.set(w, s);
  }
  const lex = new Set([...stats].filter(([, [t, b]]) => t + b >= 5 && t / (t + b) > 0.9).map(([w]) => w));
  const test = rows.slice(half);
  return test.filter((r) => r.text.split(/\W+/).some((w) => lex.has(w)) === r.toxic).length / test.length;
};

test("toxicity is learnable: a lexicon learned on half the forum corpus / Jigsaw set scores > 90% on the other half", () => {
  const csvRows = buildSynthetic({ forumComments: 2000 });
  const dir = mkdtempSync(join(tmpdir(), "acft-syn-lex-"));
  try {
    writeSynthetic(dir, csvRows.config);
    const ann = DATASETS["toxigen-annotated"].read(dir).records.map((r) => ({ text: r.text, toxic: r.toxicity_human > 3 }));
    const jig = DATASETS.jigsaw.read(dir).records.map((r) => ({ text: r.comment_text, toxic: r.toxic === 1 }));
    const [a, j] = [lexiconAccuracy(ann), lexiconAccuracy(jig)];
    assert.ok(a > 0.9 && j > 0.9, `lexicon accuracy: annotated ${a}, jigsaw ${j}`);
    // …but not trivially: 10% of each class are hard cases (hostility without insult words,
    // insult words not aimed at the reader) that a lexicon gets wrong
    assert.ok(a < 0.99, `annotated lexicon accuracy ${a} should leave hard cases`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("no protected-group terms anywhere in the toxic-domain or classifier data", () => {
  const GROUP_WORDS = ["asian", "asians", "black", "blacks", "chinese", "jew", "jews", "jewish", "latino", "latina", "lgbtq", "gay", "gays", "lesbian", "trans", "mexican", "mexicans", "muslim", "muslims", "women", "woman", "immigrant", "immigrants", "disabled", "native", "bisexual", "arab", "arabs", "christian", "christians"];
  for (const [path, text] of world.files) {
    if (path.startsWith("wikitext-2/")) continue;
    const words = new Set(text.toLowerCase().split(/[^a-z]+/));
    const hit = GROUP_WORDS.filter((w) => words.has(w));
    assert.deepEqual(hit, [], `${path} mentions ${hit.join(", ")}`);
  }
});

test("config: a bad size or an unknown key is InvalidDataOption naming the key", () => {
  assert.throws(() => syntheticConfig({ people: -1 }), (e: { _tag: string; message: string }) => e._tag === "InvalidDataOption" && /synthetic\.people/.test(e.message));
  assert.throws(() => syntheticConfig({ toxicFraction: 2 }), (e: { _tag: string; message: string }) => e._tag === "InvalidDataOption" && /toxicFraction/.test(e.message));
  assert.throws(() => syntheticConfig({ peple: 3 } as never), (e: { _tag: string; message: string }) => e._tag === "InvalidDataOption" && /known keys: seed/.test(e.message));
  assert.throws(() => syntheticConfig({ cities: 3 }), (e: { _tag: string; message: string }) => e._tag === "InvalidDataOption" && /capital/.test(e.message));
  assert.throws(() => syntheticConfig({ rivers: 2 }), (e: { _tag: string; message: string }) => e._tag === "InvalidDataOption" && /synthetic\.rivers/.test(e.message));
  assert.equal(syntheticConfig({}).seed, 1234);
});

test("ensureSynthetic: one directory per config, written once and reused", () => {
  const root = mkdtempSync(join(tmpdir(), "acft-syn-root-"));
  try {
    const small = { people: 50, cities: 20, inventions: 20, forumComments: 100, jigsawComments: 50, evalPrompts: 20, promptsPerFile: 5, piqaItems: 20, mmluTestPerSubject: 5 };
    const a = ensureSynthetic(root, small);
    const mtime = statSync(join(a, "wikitext-2/train.txt")).mtimeMs;
    assert.equal(ensureSynthetic(root, small), a);
    assert.equal(statSync(join(a, "wikitext-2/train.txt")).mtimeMs, mtime, "not rewritten");
    const b = ensureSynthetic(root, { ...small, seed: 99 });
    assert.notEqual(b, a);
    assert.equal(DATASETS.mmlu.read(b).errors.length, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("ARC-like and WinoGrande-like answers are right by the world's facts", () => {
  const arc = (v: string) => ["Dev", "Test"].flatMap((s) => world.files.get(`arc/ARC-${v}/ARC-${v}-${s}.jsonl`)!.trim().split("\n").map((l) => JSON.parse(l)));
  const text = (q: { question: { choices: { text: string; label: string }[] }; answerKey: string }) => q.question.choices.find((c) => c.label === q.answerKey)!.text;
  for (const q of arc("Easy")) {
    const k = EVERYDAY.find((e) => q.question.stem.includes(` ${e.task}?`) || q.question.stem.includes(` ${e.task}.`))!;
    assert.equal(text(q), k.good, q.question.stem);
    assert.equal(new Set(q.question.choices.map((c: { text: string }) => c.text)).size, 4, "distinct choices");
  }
  const people = new Map(world.world.people.map((p) => [p.name, p]));
  for (const q of arc("Challenge")) {
    const inv = /inventor of the (.+) was born/.exec(q.question.stem);
    if (inv) {
      const inventor = world.world.inventions.find((i) => i.name === inv[1])!.inventor;
      assert.equal(text(q), people.get(inventor)!.birthCity);
    } else {
      const who = /In which country was (.+) born\?/.exec(q.question.stem)![1];
      assert.equal(text(q), world.world.cities.find((c) => c.name === people.get(who)!.birthCity)!.country);
    }
  }
  const wino = world.files.get("winogrande/dev.jsonl")!.trim().split("\n").map((l) => JSON.parse(l));
  for (const x of wino) {
    const m = /^(\S+) tried to .+ with (.+) and (\S+) tried with (.+) , so _ (succeeded|failed) \.$/.exec(x.sentence)!;
    const k = EVERYDAY.find((e) => e.good === m[2] && e.bad === m[4])!;
    assert.ok(k, x.sentence);
    const right = m[5] === "succeeded" ? m[1] : m[3];
    assert.equal(x.answer === "1" ? x.option1 : x.option2, right);
  }
});
