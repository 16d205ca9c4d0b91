// The demo pipeline (the engine's trivial one) end to end through the CLI entry (in-process): values, a forked stage, a directory
// artifact, a sweep and the result table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../engine/Cli.ts";
import { pipelines } from "../../pipelines/index.ts";

test("demo: runs, caches, and its table holds factor × Σ i² for i < size", async () => {
  const store = mkdtempSync(join(tmpdir(), "acft-smoke-"));
  try {
    let out = "";
    const io = { out: (s: string) => void (out += s), err: () => {}, tty: false };
    const last = () => JSON.parse(out.trim().split("\n").at(-1)!);
    assert.equal(await runCli(["run", "demo", "--store", store, "--json", "--size", "5"], { pipelines, io }), 0);
    assert.deepEqual(last().instances.map((i: any) => [i.id, i.status]), [
      ["count", "ran"], ["square", "ran"], ["shard", "ran"], ["scale[factor=1]", "ran"], ["scale[factor=2]", "ran"], ["scale[factor=3]", "ran"],
    ]);
    assert.equal(await runCli(["run", "demo", "--store", store, "--json", "--size", "5"], { pipelines, io }), 0);
    assert.ok(last().instances.every((i: any) => i.status === "cached"));
    assert.equal(await runCli(["tables", "--store", store, "--format", "json"], { pipelines, io }), 0);
    const sumSq = 0 + 1 + 4 + 9 + 16;
    assert.deepEqual(last().demo.map((r: any) => [r.method, r.total]), [["scale×1", sumSq], ["scale×2", 2 * sumSq], ["scale×3", 3 * sumSq]]);
    assert.equal(await runCli(["run", "nope", "--store", store], { pipelines, io: { ...io, err: (s) => void (out += s) } }), 2, "an unknown pipeline is a usage error");
    assert.match(out, /unknown pipeline "nope"; available: .*demo/);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
});
