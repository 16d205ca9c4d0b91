// Fault injection: corrupt objects, a corrupt or missing database, a store that is a file or read-only, a
// full disk, oversized errors and non-finite params. Each case asserts what the user sees and that nothing
// corrupt is served or left behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Effect, Schema } from "effect";
import Database from "better-sqlite3";
import { runCli } from "../../engine/Cli.ts";
import { quote, boundText } from "../../engine/Errors.ts";
import { plan } from "../../engine/Graph.ts";
import { definePipeline, type AnyPipeline } from "../../engine/Pipeline.ts";
import { param } from "../../engine/Params.ts";
import { Engine, type RunEvent } from "../../engine/Runner.ts";
import { defineStage, Output } from "../../engine/Stage.ts";
import { chain, fixturePipelines } from "./fixtures/pipelines.ts";
import { statuses, tempDir } from "./helpers.ts";

const cli = async (args: string[], pipelines: AnyPipeline[] = fixturePipelines) => {
  let out = "", err = "";
  const code = await runCli(args, { pipelines, io: { out: (s) => void (out += s), err: (s) => void (err += s), tty: false } });
  return { code, out, err, json: () => JSON.parse(out.trim().split("\n").at(-1)!) };
};

/** Run a pipeline on a store, collecting the engine's warnings. */
const run = async (root: string, p: AnyPipeline = chain, overrides: string[] = []) => {
  const warnings: string[] = [];
  const e = new Engine(root);
  try {
    const s = await e.run(plan(p, { overrides }), { jobs: 1, onEvent: (ev: RunEvent) => void (ev.type === "warn" && warnings.push(`${ev.id}: ${ev.message}`)) });
    return { s, st: statuses(s), warnings, outputs: outputsOf(e, s) };
  } finally {
    e.close();
  }
};
const outputsOf = (e: Engine, s: { runId: number }) =>
  Object.fromEntries((e.db.db.prepare("SELECT instance_id, output_digest FROM executions WHERE run_id=?").all(s.runId) as Array<{ instance_id: string; output_digest: string }>).map((r) => [r.instance_id, r.output_digest]));

/** Flip one byte of a file in place (as a disk or a careless user would). */
const flip = (file: string, at = 0): void => {
  const b = readFileSync(file);
  b[at] ^= 0x01;
  writeFileSync(file, b);
};
const objectPath = (root: string, digest: string, kind: "value" | "directory") =>
  join(root, "store", "objects", digest.slice(0, 2), kind === "value" ? `${digest}.json` : `${digest}.dir`);

test("a corrupt directory object is detected on reuse, removed and recomputed; what reads it stays cached", async () => {
  const root = tempDir();
  const clean = await run(root);
  const dir = objectPath(root, clean.outputs.dir, "directory");
  flip(join(dir, "sub", "f1.txt"));
  const again = await run(root);
  assert.equal(again.st.dir, "ran", "the producer of the corrupt object reruns");
  assert.equal(again.st.read, "cached", "same output digest: early cutoff below it");
  assert.deepEqual(again.outputs, clean.outputs, "every output equals the clean run's");
  assert.equal(again.warnings.length, 1);
  assert.match(again.warnings[0], /^dir: artifact .*\.dir does not match its digest: removed it; recomputing dir/);
  assert.equal(readFileSync(join(dir, "sub", "f1.txt"), "utf8"), "3", "the object is intact again");
});

test("a corrupt value object is recomputed; a reader that finds one (stamp kept) has its producer recomputed", async () => {
  const root = tempDir();
  const clean = await run(root);
  flip(objectPath(root, clean.outputs.sum, "value"));
  const again = await run(root);
  assert.equal(again.st.sum, "ran");
  assert.deepEqual([again.st.par, again.st.dbl, again.st.dir], ["cached", "cached", "cached"]);
  assert.deepEqual(again.outputs, clean.outputs);
  // Now tamper while keeping size, mtime and inode (the stamp the hash cache trusts): the cache hit
  // passes, but the first reader re-hashes the bytes, and the engine recomputes the producer first.
  const p = objectPath(root, clean.outputs.sum, "value");
  const T = 1_700_000_000; // whole seconds: a timestamp that utimes restores exactly
  utimesSync(p, T, T);
  assert.equal((await run(root)).st.sum, "cached", "a cache hit records the object's (new) stamp");
  flip(p);
  utimesSync(p, T, T);
  const third = await run(root); // nothing reads sum in an all-cached run
  assert.equal(third.st.sum, "cached", "stamp unchanged: the hit trusts the recorded hash");
  const e = new Engine(root);
  e.db.db.prepare("DELETE FROM cache WHERE instance_id IN ('par', 'dir')").run(); // their readers must run
  e.close();
  const fourth = await run(root);
  assert.equal(fourth.st.sum, "ran", "recomputed because a reader found it corrupt");
  assert.equal(fourth.st.par, "ran");
  assert.equal(fourth.st.dbl, "cached", "par's output is unchanged: early cutoff");
  assert.ok(fourth.warnings.some((w) => /^sum: .* does not match its digest: removed it; recomputing sum, then (par|dir)/.test(w)), fourth.warnings.join("\n"));
  assert.deepEqual(fourth.outputs, clean.outputs);
});

test("without the database, a rerun replaces corrupt objects instead of reusing them", async () => {
  const root = tempDir();
  const clean = await run(root);
  flip(join(objectPath(root, clean.outputs.dir, "directory"), "sub", "f2.txt"));
  flip(objectPath(root, clean.outputs.dbl, "value"));
  for (const f of readdirSync(root)) if (f.startsWith("acft.sqlite")) rmSync(join(root, f));
  const again = await run(root);
  assert.ok(Object.values(again.st).every((s) => s === "ran"));
  assert.deepEqual(again.outputs, clean.outputs);
  assert.equal(again.warnings.filter((w) => /held a corrupt copy of this output .*replaced it/.test(w)).length, 2, again.warnings.join("\n"));
  const v = await cli(["verify", "--store", root, "--json"]);
  assert.equal(v.code, 0, v.out);
  assert.deepEqual(v.json().corrupt, []);
});

test("verify finds tampered objects and a corrupt database; --repair drops them and the next run recomputes", async () => {
  const root = tempDir();
  const clean = await run(root);
  const ok = await cli(["verify", "--store", root]);
  assert.equal(ok.code, 0);
  assert.match(ok.out, /5 object\(s\) checked, 0 corrupt; database ok/);
  flip(objectPath(root, clean.outputs.par, "value"));
  flip(join(objectPath(root, clean.outputs.dir, "directory"), "sub", "f0.txt"));
  const bad = await cli(["verify", "--store", root, "--json"]);
  assert.equal(bad.code, 1);
  assert.deepEqual(bad.json().corrupt.map((c: { digest: string }) => c.digest).sort(), [clean.outputs.par, clean.outputs.dir].sort());
  const fixed = await cli(["verify", "--repair", "--store", root]);
  assert.equal(fixed.code, 0, fixed.out);
  assert.match(fixed.out, /✗ value .* does not match its digest \(removed; its producers recompute on the next run\)/);
  assert.ok(!existsSync(objectPath(root, clean.outputs.par, "value")));
  const after = await run(root);
  assert.deepEqual([after.st.par, after.st.dir], ["ran", "ran"]);
  assert.deepEqual(after.warnings, [], "repair dropped the cache entries too: plain recomputation");
  assert.deepEqual(after.outputs, clean.outputs);
  assert.equal((await cli(["verify", "--store", root])).code, 0);
});

test("a corrupt or non-SQLite database: a typed error naming its path; verify --repair moves it aside", async () => {
  const root = tempDir();
  await run(root);
  const db = join(root, "acft.sqlite");
  for (const f of readdirSync(root)) if (/^acft\.sqlite-(wal|shm)$/.test(f)) rmSync(join(root, f));
  writeFileSync(db, "this is not a database".repeat(300));
  const r = await cli(["runs", "--store", root, "--json"]);
  assert.equal(r.code, 1);
  assert.equal(r.json().error._tag, "DatabaseError");
  assert.ok(r.err.includes(db), r.err);
  assert.match(r.err, /SQLITE_NOTADB\): it is not an SQLite database or it is corrupt: run `acft verify --repair`/);
  const v = await cli(["verify", "--store", root]);
  assert.equal(v.code, 1);
  assert.match(v.out, /database corrupt/);
  const fixed = await cli(["verify", "--repair", "--store", root]);
  assert.equal(fixed.code, 0, fixed.out);
  assert.match(fixed.out, /moved the database aside to .*acft\.sqlite\.corrupt-/);
  const again = await run(root);
  assert.ok(Object.values(again.st).every((s) => s === "ran"), "a fresh database; the verified objects are reused as outputs");
});

test("a store path that is a file, or on a read-only filesystem: typed errors naming the path, exit 1", async (t) => {
  const file = join(tempDir(), "not-a-dir");
  writeFileSync(file, "x");
  for (const args of [["run", "chain"], ["runs"], ["status", "chain"]]) {
    const r = await cli([...args, "--store", file, "--json"]);
    assert.equal(r.code, 1, args.join(" "));
    assert.equal(r.json().error._tag, "StoreError");
    assert.match(r.err, new RegExp(`store: cannot create the store directory ${file} \\((EEXIST|ENOTDIR)\\): .*point --store at a directory`));
  }
  const under = await cli(["run", "chain", "--store", join(file, "sub")]);
  assert.equal(under.code, 1);
  assert.match(under.err, /ENOTDIR\): a path component is a file/);

  const ro = tempDir();
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro]);
  if (m.status !== 0) return t.skip(`cannot mount a read-only tmpfs here (needs root): ${m.stderr?.toString().trim()}`);
  try {
    const r = await cli(["run", "chain", "--store", ro, "--json"]);
    assert.equal(r.code, 1);
    assert.equal(r.json().error._tag, "StoreError");
    assert.match(r.err, new RegExp(`store: cannot create ${ro}/store/objects \\(EROFS\\): the filesystem is read-only`));
    const sub = await cli(["run", "chain", "--store", join(ro, "results")]);
    assert.match(sub.err, /EROFS\): the filesystem is read-only/);
  } finally {
    spawnSync("umount", [ro]);
  }
});

/** Records `n` metrics with long names: enough to fill a tiny disk. */
const chatty = defineStage({
  name: "chatty", version: 1, module: import.meta.url, process: "inline",
  params: Schema.Struct({ n: param(Schema.Int, 100_000, "metrics to record") }),
  inputs: {}, output: Output.value(Schema.Number),
  run: ({ params, ctx }) => Effect.sync(() => {
    for (let i = 0; i < params.n; i++) ctx.metric(`m${"x".repeat(200)}`, i, i);
    return params.n;
  }),
});
const fill = definePipeline({
  name: "fill", description: "fills the disk with metrics", params: Schema.Struct({}),
  build: (p) => void p.add(chatty, { id: "chatty" }),
});

test("a full disk mid-run: the run ends failed with a typed error; no lock or scratch is left behind", async (t) => {
  const root = tempDir();
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", root]);
  if (m.status !== 0) return t.skip(`cannot mount a small tmpfs here (needs root): ${m.stderr?.toString().trim()}`);
  try {
    const r = await cli(["run", "fill", "--store", root, "--json"], [fill]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.equal(r.json().error._tag, "DatabaseError");
    assert.match(r.err, /run database .*acft\.sqlite: cannot write \(SQLITE_FULL\): the disk is full/);
    const db = new Database(join(root, "acft.sqlite"), { readonly: true });
    try {
      assert.deepEqual(db.prepare("SELECT status FROM runs").all(), [{ status: "failed" }]);
      assert.deepEqual(db.prepare("SELECT count(*) AS n FROM locks").get(), { n: 0 });
      assert.deepEqual(db.prepare("SELECT count(*) AS n FROM cache").get(), { n: 0 }, "nothing cached");
      assert.deepEqual(db.prepare("SELECT status FROM executions").all(), [{ status: "failed" }]);
    } finally {
      db.close();
    }
    assert.deepEqual(readdirSync(join(root, "store", "tmp")), [], "no scratch left");
  } finally {
    spawnSync("umount", [root]);
  }
});

test("errors quote values bounded: a huge stage error is cut in the database and the output", async () => {
  const huge = defineStage({
    name: "huge", version: 1, module: import.meta.url, process: "inline",
    params: Schema.Struct({}), inputs: {}, output: Output.value(Schema.Number),
    run: () => Effect.fail(new Error(`bad value ${"y".repeat(5_000_000)}`)),
  });
  const p = definePipeline({ name: "huge", description: "", params: Schema.Struct({}), build: (b) => void b.add(huge, { id: "h" }) });
  const root = tempDir();
  const r = await cli(["run", "huge", "--store", root, "--json"], [p]);
  assert.equal(r.code, 1);
  assert.ok(r.out.length < 10_000, `output is ${r.out.length} characters`);
  const db = new Database(join(root, "acft.sqlite"), { readonly: true });
  const row = db.prepare("SELECT length(error) AS n FROM executions").get() as { n: number };
  db.close();
  assert.ok(row.n <= 4000, `executions.error is ${row.n} characters`);
  assert.equal(quote("z".repeat(250)), `"${"z".repeat(200)}…" (250 characters)`);
  assert.equal(quote("short"), '"short"');
  assert.match(boundText("a".repeat(10_000), 100), /^a{20}\n… \[9,960 characters cut\] …\na{20}$/);
});

test("params: non-finite numbers are rejected alike (1e309, Infinity); --dry-run validates; extra arguments are errors", async () => {
  for (const v of ["1e309", "-1e309", "Infinity", "NaN"]) {
    const r = await cli(["run", "chain", "--set", `a.value=${v}`, "--store", tempDir(), "--json"]);
    assert.equal(r.code, 2, v);
    assert.equal(r.json().error._tag, "DecodeError", v);
    assert.match(r.json().error.message, /invalid a params:\n  - a params\.value: Expected (a finite number, actual -?Infinity|number, actual "(Infinity|NaN)")/, v);
  }
  const dry = await cli(["run", "chain", "--dry-run", "--jobs", "0", "--store", tempDir()]);
  assert.equal(dry.code, 2);
  assert.match(dry.err, /--jobs 0: expected an integer ≥ 1/);
  const extra = await cli(["run", "chain", "typo", "--store", tempDir()]);
  assert.equal(extra.code, 2);
  assert.match(extra.err, /acft run: unexpected argument "typo"\nusage: acft run <pipeline>/);
  assert.equal((await cli(["runs", "x", "--store", tempDir()])).code, 2);
});

test("gc removes locks whose holder is gone; a live holder's lock stays", async () => {
  const root = tempDir();
  await run(root);
  const e = new Engine(root);
  e.db.db.prepare("INSERT INTO locks VALUES ('k-dead', 'x', 999999999, ?, 't', '', ?)").run((await import("node:os")).hostname(), Date.now());
  e.db.db.prepare("INSERT INTO locks VALUES ('k-live', 'y', ?, ?, 't', '', ?)").run(process.pid, (await import("node:os")).hostname(), Date.now());
  e.close();
  const dry = await cli(["gc", "--dry-run", "--store", root, "--json"]);
  assert.equal(dry.json().staleLocks, 1);
  const g = await cli(["gc", "--store", root]);
  assert.match(g.out, /cleared 1 stale lock\(s\)/);
  const e2 = new Engine(root);
  assert.deepEqual(e2.db.db.prepare("SELECT cache_key FROM locks").all(), [{ cache_key: "k-live" }]);
  e2.close();
});

test("editing a comment in a stage module reruns that stage only; its identical output cuts off what follows", async (t) => {
  // A stage module of its own, inside the project (so it resolves "effect") in an ignored directory.
  const dir = join(new URL("../..", import.meta.url).pathname, ".acft-tmp", `edit-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const mod = join(dir, "stage.ts");
  const source = (comment: string) => `// ${comment}
import { Effect, Schema } from "effect";
import { defineStage, Output } from "../../engine/Stage.ts";
export const source = defineStage({
  name: "source", version: 1, module: import.meta.url, process: "inline",
  params: Schema.Struct({}), inputs: {}, output: Output.value(Schema.Number),
  run: () => Effect.succeed(41),
});
`;
  writeFileSync(mod, source("first version"));
  const { parity, double, emit } = await import("./fixtures/stages.ts");
  const { source: stage } = (await import(mod)) as { source: typeof emit };
  const p = definePipeline({
    name: "edited", description: "", params: Schema.Struct({}),
    build: (b) => { const s = b.add(stage, { id: "source" }); const q = b.add(parity, { id: "par", inputs: { x: s } }); b.add(double, { id: "dbl", inputs: { x: q } }); },
  });
  const root = tempDir();
  const first = await run(root, p);
  assert.ok(Object.values(first.st).every((s) => s === "ran"));
  writeFileSync(mod, source("second version: only this comment changed"));
  const second = await run(root, p);
  assert.deepEqual(second.st, { source: "ran", par: "cached", dbl: "cached" });
});

test("a clean-up that fails does not replace the stage's own error", async (t) => {
  // A mount inside the scratch directory makes removing it fail (EBUSY), as a stuck disk would.
  const mounts: string[] = [];
  const stuck = defineStage({
    name: "stuck", version: 1, module: import.meta.url, process: "inline",
    params: Schema.Struct({}), inputs: {}, output: Output.directory(),
    run: ({ ctx }) => Effect.suspend(() => {
      const m = join(ctx.outDir, "m");
      mkdirSync(m);
      if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", m]).status === 0) mounts.push(m);
      return Effect.fail(new Error("the stage's own failure"));
    }),
  });
  const p = definePipeline({ name: "stuck", description: "", params: Schema.Struct({}), build: (b) => void b.add(stuck, { id: "s" }) });
  const root = tempDir();
  const warnings: string[] = [];
  const e = new Engine(root);
  try {
    const s = await e.run(plan(p), { onEvent: (ev) => void (ev.type === "warn" && warnings.push(ev.message)) });
    if (mounts.length === 0) return t.skip("cannot mount a tmpfs here (needs root)");
    assert.equal(s.instances[0].status, "failed");
    assert.match(s.instances[0].error!, /the stage's own failure/);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /could not remove its scratch directory .* `acft gc` removes it later/);
  } finally {
    e.close();
    for (const m of mounts) spawnSync("umount", [m]);
  }
});

test("gc removes checkpoints no rerun can resume from and job logs of old runs; keeps what a rerun or a live job needs", async () => {
  const root = tempDir();
  await run(root);
  const { gc } = await import("../../engine/Gc.ts");
  const { status } = await import("../../engine/Status.ts");
  const { recordJob } = await import("../../engine/JobStore.ts");
  const e = new Engine(root);
  const ck = (key: string) => join(root, "store", "checkpoints", key);
  // a plan under which instance `a` is not cached (a value no fixture pipeline uses): a rerun could resume from its checkpoint
  const stalePlan = plan(chain, { overrides: ["chain.a=987654"] });
  const staleKey = status(e, stalePlan).find((x) => x.status === "stale" && x.key)!.key!;
  for (const k of [staleKey, "k-locked", "k-abandoned"]) (mkdirSync(ck(k), { recursive: true }), writeFileSync(join(ck(k), "state.bin"), "12345"));
  e.db.db.prepare("INSERT INTO locks VALUES ('k-locked', 'y', ?, ?, 't', '', ?)").run(process.pid, (await import("node:os")).hostname(), Date.now());
  const logs = join(root, "logs", "slurm");
  mkdirSync(logs, { recursive: true });
  const runId = e.db.startRun("chain", "run chain");
  for (const [id, state] of [["1", "COMPLETED"], ["2", "RUNNING"]] as const) {
    writeFileSync(join(logs, `x.${id}.log`), "log");
    recordJob(e.db, "slurm", { job_id: id, run_id: runId, instance_id: "x", cache_key: `k${id}`, staging: "/nonexistent", log: join(logs, `x.${id}.log`), state, node: "" });
  }
  writeFileSync(join(logs, "old.9.log"), "an older run's log");
  try {
    const dry = gc(e, [stalePlan], 1, true);
    assert.deepEqual([dry.checkpoints, dry.logs], [1, 1], JSON.stringify(dry));
    assert.ok(existsSync(ck("k-abandoned")) && existsSync(join(logs, "old.9.log")), "a dry run removes nothing");
    const g = gc(e, [stalePlan], 1);
    assert.deepEqual([g.checkpoints, g.logs], [1, 1]);
    assert.deepEqual([staleKey, "k-locked", "k-abandoned"].map((k) => existsSync(ck(k))), [true, true, false]);
    assert.deepEqual(readdirSync(logs).sort(), ["x.1.log", "x.2.log"]);
    // with no run kept, only the job in flight keeps its log
    assert.equal(gc(e, [stalePlan], 0).logs, 1);
    assert.deepEqual(readdirSync(logs), ["x.2.log"]);
  } finally {
    e.close();
  }
  // the CLI reports them; under its own (default) plans the stale key's checkpoint is abandoned too
  const out = await cli(["gc", "--store", root]);
  assert.match(out.out, /, 1 abandoned checkpoint\(s\)/);
});
