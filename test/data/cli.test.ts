import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkPassed, dataCheck } from "../../data/cli.ts";

test("data check --json without a data dir: last line is exactly {datasets:[{name,records,digest,errors}]} for the synthetic default", async () => {
  const lines: string[] = [];
  const report = await dataCheck({ json: true, log: (s) => lines.push(s) });
  const parsed = JSON.parse(lines[lines.length - 1]);
  assert.deepEqual(Object.keys(parsed), ["datasets"]);
  assert.deepEqual(parsed, JSON.parse(JSON.stringify(report)));
  for (const d of parsed.datasets) {
    assert.deepEqual(Object.keys(d), ["name", "records", "digest", "errors"]);
    assert.ok(d.records > 0);
    assert.match(d.digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(d.errors, []);
  }
  assert.deepEqual(parsed.datasets.map((d: { name: string }) => d.name), ["wikitext-2", "toxigen-prompts", "toxigen-annotated", "toxigen-safenlp", "jigsaw", "mmlu", "piqa", "arc-easy", "arc-challenge", "winogrande"]);
  assert.ok(checkPassed(report));
  // the synthetic default is deterministic, so is its report
  const again = await dataCheck({ json: true, log: () => {} });
  assert.deepEqual(again, report);
});

test("data check on a dir with a bad record lists it (file, line, field) and fails; an empty dir finds nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "acft-check-"));
  try {
    mkdirSync(join(dir, "piqa"));
    writeFileSync(join(dir, "piqa/valid.jsonl"), '{"goal": "g", "sol1": "a", "sol2": "b"}\n{"goal": "", "sol1": "a", "sol2": "b"}\n');
    writeFileSync(join(dir, "piqa/valid-labels.lst"), "0\n1\n");
    const lines: string[] = [];
    const r = await dataCheck({ dataDir: dir, log: (s) => lines.push(s) });
    assert.equal(r.datasets.length, 1);
    assert.equal(r.datasets[0].records, 1);
    assert.deepEqual(r.datasets[0].errors.map((e) => [e.file, e.line, e.field]), [["piqa/valid.jsonl", 2, "goal"]]);
    assert.ok(!checkPassed(r));
    assert.ok(lines.some((l) => /FAIL piqa/.test(l)) && lines.some((l) => l.includes('piqa/valid.jsonl:2: field "goal"')));
    const empty = mkdtempSync(join(tmpdir(), "acft-check-empty-"));
    const e = await dataCheck({ dataDir: empty, log: () => {} });
    assert.deepEqual(e, { datasets: [] });
    assert.ok(!checkPassed(e));
    rmSync(empty, { recursive: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("resolveDataDir: the flag wins, then ACFT_DATA_DIR, else undefined (= synthetic default)", async () => {
  const { resolveDataDir } = await import("../../data/registry.ts");
  const saved = process.env.ACFT_DATA_DIR;
  try {
    process.env.ACFT_DATA_DIR = "/env/dir";
    assert.equal(resolveDataDir("/flag/dir"), "/flag/dir");
    assert.equal(resolveDataDir(), "/env/dir");
    delete process.env.ACFT_DATA_DIR;
    assert.equal(resolveDataDir(), undefined);
  } finally {
    if (saved === undefined) delete process.env.ACFT_DATA_DIR;
    else process.env.ACFT_DATA_DIR = saved;
  }
});
