// The precompiled start-up (scripts/bundle.mjs via bin/acft.mjs) on a small temp project: forked
// workers run from the bundle, stages outside it fork through tsx, keys are identical to tsx's, an
// edited source rebuilds the bundle, a build failure falls back to tsx, concurrent builds are safe.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const repo = join(import.meta.dirname, "../..");
// Inside the repo (git-ignored) so the temp project resolves npm packages from the repo's node_modules.
const dir = join(repo, ".acft-tmp", `bundle-${process.pid}-${Date.now()}`);
const cache = join(dir, "node_modules", ".cache", "acft");
test.after(() => rmSync(dir, { recursive: true, force: true }));

const stageSource = (name: string, engine: string) => `
import { Effect, Schema } from "effect";
import { defineStage, Output } from "${engine}/Stage.ts";
export const ${name} = defineStage({ name: "${name}", version: 1, module: import.meta.url,
  params: Schema.Struct({}), inputs: {}, output: Output.value(Schema.String),
  run: () => Effect.succeed(String(process.argv[1])) }); // the worker's entry: the bundle or workerMain.ts
`;

/** A project with the real engine, bin/ and scripts/bundle.mjs; main.ts runs one pipeline, prints JSON. */
const makeProject = () => {
  mkdirSync(join(dir, "stages"), { recursive: true });
  mkdirSync(join(dir, "test"), { recursive: true });
  for (const d of ["engine", "bin"]) cpSync(join(repo, d), join(dir, d), { recursive: true });
  mkdirSync(join(dir, "scripts"));
  cpSync(join(repo, "scripts", "bundle.mjs"), join(dir, "scripts", "bundle.mjs"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bundle-test", type: "module", private: true }));
  writeFileSync(join(dir, "stages", "where.ts"), stageSource("inside", "../engine"));
  // test/ is not bundled (like the repo's tests): its stage is in the bundle's code but not its registry.
  writeFileSync(join(dir, "test", "outside.ts"), stageSource("outside", "../engine"));
  writeFileSync(join(dir, "main.ts"), `
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Schema } from "effect";
import { plan } from "./engine/Graph.ts";
import { definePipeline } from "./engine/Pipeline.ts";
import { Engine } from "./engine/Runner.ts";
import { inside } from "./stages/where.ts";
import { outside } from "./test/outside.ts";
const p = definePipeline({ name: "where", description: "", params: Schema.Struct({}),
  build: (b) => { b.add(inside, { id: "inside" }); b.add(outside, { id: "outside" }); } });
// DROP_BUNDLE=1: the bundle this process runs from disappears before the run (pruned meanwhile).
if (process.env.DROP_BUNDLE === "1") rmSync(join(process.argv[2], "..", "node_modules", ".cache", "acft"), { recursive: true, force: true });
const e = new Engine(process.argv[2]);
const s = await e.run(plan(p), { jobs: 1 });
const value = (key?: string) => { const c = key && e.db.cacheGet(key); return c ? JSON.parse(e.store.readValue(c.output_digest)) : undefined; };
console.log(JSON.stringify(Object.fromEntries(s.instances.map((i) => [i.id, { status: i.status, key: i.key, error: i.error, entry: value(i.key), module: i.id === "inside" ? inside.module : outside.module }]))));
e.close();
`);
};

interface Result { code: number | null; stdout: string; stderr: string; out: Record<string, { status: string; key: string; entry: string; module: string; error?: string }> }
const acft = (env: Record<string, string> = {}, root = dir): Promise<Result> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "bin", "acft.mjs"), join(root, "store") + (env.STORE_SUFFIX ?? "")], { env: { ...process.env, ACFT_NO_BUNDLE: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("exit", (code) => {
      const last = stdout.trim().split("\n").at(-1);
      resolve({ code, stdout, stderr, out: last ? JSON.parse(last) : {} });
    });
  });
const bundles = () => (existsSync(cache) ? readdirSync(cache).filter((f) => f.endsWith(".mjs")) : []);

let c1: Result["out"];

test("bundle: workers run from it, keys match tsx, edits rebuild it, failures fall back to tsx", async (t) => {
  makeProject();
  const a = await acft();
  assert.equal(a.code, 0, a.stderr);
  assert.equal(bundles().length, 1, "the first start built the bundle");
  assert.equal(a.out.inside.status, "ran", a.out.inside.error);
  assert.equal(a.out.inside.entry, join(cache, bundles()[0]), "the stage in the bundle ran in a worker forked from it");
  assert.equal(a.out.outside.entry, join(dir, "engine", "workerMain.ts"), "a stage outside the bundle forks through tsx");
  assert.equal(a.out.inside.module, `file://${join(dir, "stages", "where.ts")}`, "stage.module is the source file, not the bundle");

  await t.test("tsx computes the same keys (all cached)", async () => {
    const b = await acft({ ACFT_NO_BUNDLE: "1" });
    assert.equal(b.code, 0, b.stderr);
    for (const id of ["inside", "outside"]) {
      assert.equal(b.out[id].key, a.out[id].key, id);
      assert.equal(b.out[id].status, "cached", id);
    }
  });

  await t.test("editing a bundled source rebuilds the bundle and reruns the stage under the new key", async () => {
    const before = bundles();
    appendFileSync(join(dir, "stages", "where.ts"), "// edited\n");
    const c = await acft();
    c1 = c.out;
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.out.inside.status, "ran");
    assert.notEqual(c.out.inside.key, a.out.inside.key);
    assert.equal(c.out.outside.status, "cached");
    const fresh = bundles().filter((f) => !before.includes(f));
    assert.equal(fresh.length, 1, "a new bundle for the new sources");
    assert.equal(c.out.inside.entry, join(cache, fresh[0]));
    const d = await acft({ ACFT_NO_BUNDLE: "1" });
    assert.equal(d.out.inside.key, c.out.inside.key, "tsx agrees on the new key");
    assert.equal(d.out.inside.status, "cached");
  });

  await t.test("a source esbuild cannot compile: warning, then the same run through tsx", async () => {
    writeFileSync(join(dir, "stages", "broken.ts"), "export const = ;\n"); // not imported by main.ts
    const e = await acft();
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stderr, /could not precompile the sources .*running them through tsx/);
    assert.equal(e.out.inside.status, "cached");
    assert.equal(readdirSync(cache).filter((f) => f.includes(".tmp")).length, 0, "no temp files left");
    rmSync(join(dir, "stages", "broken.ts"));
  });

  await t.test("a bundle removed while its process runs: workers fork through tsx instead", async () => {
    const f = await acft({ DROP_BUNDLE: "1", STORE_SUFFIX: "-dropped" });
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.out.inside.status, "ran", f.out.inside.error);
    assert.equal(f.out.inside.entry, join(dir, "engine", "workerMain.ts"));
    assert.equal(f.out.inside.key, c1.inside.key, "same key either way");
  });

  await t.test("a copied checkout (its bundle cache copied along) builds and uses its own bundle, even with the original gone", async () => {
    const copy = `${dir}-copy`;
    const hidden = `${dir}-hidden`;
    assert.equal((await acft()).code, 0); // the original has its bundle
    cpSync(dir, copy, { recursive: true });
    const copied = bundles();
    assert.equal(copied.length, 1);
    rmSync(join(copy, "store"), { recursive: true, force: true });
    renameSync(dir, hidden); // the original disappears: nothing of the copy may depend on it
    try {
      const g = await acft({}, copy);
      assert.equal(g.code, 0, g.stderr);
      const copyCache = join(copy, "node_modules", ".cache", "acft");
      const own = readdirSync(copyCache).filter((f) => f.endsWith(".mjs") && !copied.includes(f));
      assert.equal(own.length, 1, "a bundle of the copy's own, beside the copied ones");
      assert.equal(g.out.inside.entry, join(copyCache, own[0]), "its workers fork from the copy's bundle");
      assert.equal(g.out.inside.module, `file://${join(copy, "stages", "where.ts")}`, "stage modules (and fingerprints) are the copy's files");
      assert.equal(g.out.inside.status, "ran", g.out.inside.error);
      assert.ok(existsSync(join(copy, "store", "acft.sqlite")));
    } finally {
      renameSync(hidden, dir);
      rmSync(copy, { recursive: true, force: true });
    }
  });

  await t.test("two processes building at once: both run, one bundle, no temp files", async () => {
    rmSync(cache, { recursive: true, force: true });
    const [x, y] = await Promise.all([acft(), acft()]);
    assert.equal(x.code, 0, x.stderr);
    assert.equal(y.code, 0, y.stderr);
    assert.equal(bundles().length, 1);
    assert.deepEqual(readdirSync(cache).filter((f) => f.includes(".tmp")), []);
    assert.equal(x.out.inside.entry, join(cache, bundles()[0]));
  });
});
