// The CLI in-process: --json shapes, tables, dag, status --explain, gc, errors and extension points.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, type Command } from "../../engine/Cli.ts";
import { Schema } from "effect";
import { definePipeline, type AnyPipeline } from "../../engine/Pipeline.ts";
import { fixturePipelines } from "./fixtures/pipelines.ts";
import { curve, parity } from "./fixtures/stages.ts";
import { tempDir } from "./helpers.ts";

const cli = async (args: string[], extra: { commands?: Command[]; globalOptions?: any[]; pipelines?: AnyPipeline[] } = {}) => {
  let out = "", err = "";
  const code = await runCli(args, { pipelines: fixturePipelines, ...extra, io: { out: (s) => void (out += s), err: (s) => void (err += s), tty: false } });
  return { code, out, err, json: () => JSON.parse(out.trim().split("\n").at(-1)!) };
};

test("run --json prints one JSON object with each instance's id, stage, status and seconds", async () => {
  const store = tempDir();
  const r = await cli(["run", "chain", "--store", store, "--json"]);
  assert.equal(r.code, 0, r.err);
  const j = r.json();
  assert.equal(typeof j.runId, "number");
  assert.deepEqual(j.instances.map((i: any) => [i.id, i.stage, i.status]), [
    ["a", "emit", "ran"], ["b", "emit", "ran"], ["sum", "add", "ran"], ["par", "parity", "ran"], ["dbl", "double", "ran"], ["dir", "writeDir", "ran"], ["read", "readDir", "ran"],
  ]);
  assert.ok(j.instances.every((i: any) => typeof i.seconds === "number"));
  const again = await cli(["--store", store, "run", "chain", "--json", "--set", "b.value=4"]);
  assert.deepEqual(again.json().instances.map((i: any) => i.status), ["cached", "ran", "ran", "ran", "cached", "ran", "ran"]);
  const st = await cli(["status", "chain", "--store", store, "--json", "--set", "chain.a=9"]);
  assert.deepEqual(st.json().instances.map((i: any) => i.status), ["stale", "cached", "stale", "stale", "stale", "stale", "stale"]);
});

test("run --only runs just the matching instances and their inputs", async () => {
  const store = tempDir();
  const r = await cli(["run", "chain", "--store", store, "--json", "--only", "par"]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.json().instances.map((i: any) => [i.id, i.status]), [["a", "ran"], ["b", "ran"], ["sum", "ran"], ["par", "ran"]]);
  const all = await cli(["run", "chain", "--store", store, "--json"]);
  assert.deepEqual(all.json().instances.map((i: any) => i.status), ["cached", "cached", "cached", "cached", "ran", "ran", "ran"]);
  const bad = await cli(["status", "chain", "--store", store, "--only", "zz"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--only zz: no instance of chain matches/);
});

test("status --explain says which param changed; --dry-run runs nothing", async () => {
  const store = tempDir();
  await cli(["run", "chain", "--store", store]);
  const r = await cli(["status", "chain", "--store", store, "--explain", "--set", "writeDir.files=4"]);
  assert.match(r.out, /○ stale  dir\n\s+param files: 3 → 4/);
  assert.match(r.out, /chain: 5 cached, 2 stale/);
  const d = await cli(["run", "chain", "--store", store, "--dry-run", "--json", "--set", "writeDir.files=4"]);
  assert.equal(d.json().instances.filter((i: any) => i.status === "stale").length, 2);
  const s = await cli(["status", "chain", "--store", store, "--json", "--set", "writeDir.files=4"]);
  assert.equal(s.json().instances.filter((i: any) => i.status === "stale").length, 2, "the dry run executed nothing");
});

test("tables: SQLite rows with provenance, exported as md and csv, --format json (provenance with --provenance)", async () => {
  const store = tempDir();
  await cli(["run", "chain", "--store", store]);
  const plain = (await cli(["tables", "--store", store, "--format", "json"])).json().doubled;
  assert.deepEqual(plain, [{ method: "double", value: 2 }], "results only, like the Markdown");
  const j = await cli(["tables", "--store", store, "--format", "json", "--provenance"]);
  const rows = j.json().doubled;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].method, "double");
  assert.equal(rows[0].value, 2); // parity(1 + 2) = 1, doubled
  assert.equal(rows[0].instance_id, "dbl");
  assert.equal(rows[0].run_id, 1);
  assert.match(rows[0].cache_key, /^[0-9a-f]{64}$/);
  assert.match(JSON.parse(rows[0].source_keys).x, /^[0-9a-f]{64}$/);
  // Markdown is for people: provenance moves to a line under the table; CSV keeps every column.
  await cli(["tables", "--store", store]);
  const md = readFileSync(join(store, "tables", "doubled.md"), "utf8");
  assert.match(md, /^\|method\|value\|\n/);
  assert.match(md, new RegExp(`_run 1 · instance dbl · key ${rows[0].cache_key.slice(0, 12)}…`));
  assert.match(readFileSync(join(store, "tables", "doubled.csv"), "utf8"), /^method,value,run_id,instance_id,cache_key,source_keys/);
  const full = await cli(["tables", "--store", store, "--provenance"]);
  assert.match(full.out, /\|method\|value\|run_id\|instance_id\|cache_key\|source_keys\|/);
});

test("dag prints text and Mermaid", async () => {
  const t = await cli(["dag", "chain"]);
  assert.match(t.out, /sum \(add v1\)\n    a ← a\n    b ← b/);
  const m = await cli(["dag", "chain", "--format", "mermaid"]);
  assert.match(m.out, /^flowchart TD/);
  assert.match(m.out, /n0 -->\|a\| n2/);
});

test("unknown pipeline lists the available ones; unknown --set key lists known keys; usage errors exit 2", async () => {
  const u = await cli(["run", "nope", "--store", tempDir()]);
  assert.equal(u.code, 2);
  assert.match(u.err, /unknown pipeline "nope"; available: chain, slow, failing, swept, external/);
  const k = await cli(["run", "chain", "--store", tempDir(), "--set", "sum.lr=1", "--json"]);
  assert.equal(k.code, 2);
  assert.equal(k.json().error._tag, "UnknownOverrideKey");
  assert.match(k.err, /Known keys:[\s\S]*emit\.value/);
  const f = await cli(["run", "chain", "--bogus"]);
  assert.equal(f.code, 2);
  assert.match(f.err, /--bogus/);
  const j = await cli(["run", "chain", "--jobs", "0", "--store", tempDir()]);
  assert.equal(j.code, 2);
  assert.match(j.err, /--jobs 0: expected an integer ≥ 1/);
  const d = await cli(["run", "chain", "--data-dir", "x", "--store", tempDir()]);
  assert.match(d.err, /--set chain\.dataDir: unknown key/, "--data-dir maps to the pipeline's dataDir param");
});

test("runs lists runs; gc frees artifacts no recent run or current plan references", async () => {
  const store = tempDir();
  await cli(["run", "chain", "--store", store]);
  await cli(["run", "chain", "--store", store, "--set", "chain.a=11"]);
  const runs = await cli(["runs", "--store", store, "--json"]);
  assert.deepEqual(runs.json().runs.map((r: any) => [r.run_id, r.status]), [[2, "succeeded"], [1, "succeeded"]]);
  const keepAll = await cli(["gc", "--store", store, "--json"]);
  assert.equal(keepAll.json().removed, 0);
  // keep only the current plan (a=1): values 1, 2, 3, 6 and dir(3) stay; run 2's 11, 13, 26 and dir(13) go
  const g = await cli(["gc", "--store", store, "--keep-runs", "0", "--json"]);
  assert.equal(g.json().removed, 4, JSON.stringify(g.json()));
  assert.equal(g.json().kept, 5);
  assert.equal(g.json().freedBytes, 6 + 5, 'values "11" "13" "26" + dir files "0" "13" "26"');
  const st = await cli(["status", "chain", "--store", store, "--json"]);
  assert.ok(st.json().instances.every((i: any) => i.status === "cached"), "the current plan's artifacts are kept");
});

test("extension points: extra command groups and global flags", async () => {
  let backend = "";
  const data: Command = {
    name: "data", summary: "data tools", usage: "acft data check", options: { deep: { type: "boolean" } }, positionals: 1,
    run: async (ctx) => (ctx.out(`data ${ctx.positionals.join(" ")} deep=${ctx.values.deep ?? false}\n`), 0),
  };
  const r = await cli(["--backend", "wasm", "data", "check", "--deep"], {
    commands: [data], globalOptions: [{ name: "backend", type: "string", description: "tfjs backend", apply: (v: string) => (backend = v) }],
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "data check deep=true\n");
  assert.equal(backend, "wasm");
  const failing: Command = {
    name: "explode", summary: "", usage: "acft explode",
    run: async () => { throw Object.assign(new Error("ChecksumMismatch: data/x.csv has sha256 abc, expected def; rerun acft data fetch"), { _tag: "ChecksumMismatch" }); },
  };
  const x = await cli(["explode", "--json"], { commands: [failing] });
  assert.equal(x.code, 1);
  assert.deepEqual(x.json().error._tag, "ChecksumMismatch");
  assert.match(x.err, /^acft: ChecksumMismatch: data\/x\.csv/);
  const h = await cli(["--help"], { commands: [data] });
  assert.match(h.out, /acft data check/);
});

test("params lists every --set key with its type, default and description", async () => {
  const r = await cli(["params", "chain", "--json"]);
  const j = r.json();
  assert.deepEqual(Object.keys(j), ["chain", "emit", "add", "parity", "double", "writeDir", "readDir"]);
  assert.deepEqual(j.writeDir, [{ name: "files", description: "files to write", type: "Int", default: 3 }]);
  const t = await cli(["params", "chain"]);
  assert.match(t.out, /chain\.a\s+number\s+default 1 +— first number/);
});

test("bad params, unknown key, cycle, missing input: a typed error naming the culprit, nothing written", async () => {
  const cyclic = definePipeline({
    name: "cyclic", description: "", params: Schema.Struct({}),
    build: (p) => void p.add(parity, { id: "y", inputs: { x: p.add(parity, { id: "x", inputs: { x: p.ref("y") } }) } }),
  });
  const dangling = definePipeline({
    name: "dangling", description: "", params: Schema.Struct({}),
    build: (p) => void p.add(parity, { id: "lonely", inputs: { x: p.ref("nowhere") } }),
  });
  const pipelines = [...fixturePipelines, cyclic, dangling];
  const store = tempDir();
  // exit 2: the command line is wrong; exit 1: the pipeline definition is
  const cases: Array<[string[], string, RegExp, number]> = [
    [["run", "chain", "--set", "a.value=x"], "DecodeError", /invalid a params:\n  - a params\.value: Expected number, actual "x"/, 2],
    [["run", "chain", "--set", "a.nope=1"], "UnknownOverrideKey", /--set a\.nope: unknown key/, 2],
    [["run", "cyclic"], "CycleError", /cycle \(each feeds the next\): (x → y → x|y → x → y)/, 1],
    [["run", "dangling"], "MissingInput", /instance lonely: input "x" refers to "nowhere"/, 1],
  ];
  for (const [args, tag, message, code] of cases) {
    const r = await cli([...args, "--store", store, "--json"], { pipelines });
    assert.equal(r.code, code, args.join(" "));
    assert.equal(r.json().error._tag, tag);
    assert.match(r.json().error.message, message);
  }
  // planning fails before the store is opened: no database, no artifact directory
  assert.deepEqual(readdirSync(store), []);
});

test("plot writes one SVG panel per instance that recorded the stepped metric; none is a usage error", async () => {
  const store = tempDir();
  const curves = definePipeline({
    name: "curves", description: "two training-like curves and a stage without one", params: Schema.Struct({}),
    build: (p) => { p.add(curve, { id: "fast", params: { value: 8 } }); p.add(curve, { id: "slow", params: { value: 2, steps: 3 } }); p.add(parity, { id: "nocurve", inputs: { x: p.add(curve, { id: "one", params: { steps: 1 } }) } }); },
  });
  const r0 = await cli(["run", "curves", "--store", store], { pipelines: [curves] });
  assert.equal(r0.code, 0, r0.err);
  const r = await cli(["plot", "curves", "loss", "--store", store], { pipelines: [curves] });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /fast\s+loss 8\.000 → 1\.600 over 5 steps/);
  assert.match(r.out, /slow\s+loss 2\.000 → 0\.6667 over 3 steps/);
  assert.doesNotMatch(r.out, /one|nocurve/); // one point is no curve
  const svg = readFileSync(join(store, "plots", "curves-loss.svg"), "utf8");
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  const only = await cli(["plot", "curves", "loss", "--store", store, "--only", "slow", "--out", join(store, "s.svg")], { pipelines: [curves] });
  assert.equal(only.code, 0, only.err);
  assert.equal((readFileSync(join(store, "s.svg"), "utf8").match(/<polyline /g) ?? []).length, 1);
  const none = await cli(["plot", "curves", "accuracy", "--store", store], { pipelines: [curves] });
  assert.equal(none.code, 2);
  assert.match(none.err, /no instance of curves has recorded a stepped metric "accuracy"/);
});
