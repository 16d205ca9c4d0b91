// Caching: all-cached reruns, param changes, early cutoff, source edits, external inputs, failures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, readdirSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Schema } from "effect";
import { plan } from "../../engine/Graph.ts";
import { definePipeline } from "../../engine/Pipeline.ts";
import { status } from "../../engine/Status.ts";
import { chain, external, failing } from "./fixtures/pipelines.ts";
import { runP, statuses, tempDir, withEngine } from "./helpers.ts";

test("second run: every instance cached; the outputs are the same", () =>
  withEngine(async (e) => {
    const first = await runP(e, chain);
    assert.ok(first.instances.every((i) => i.status === "ran"), JSON.stringify(statuses(first)));
    const second = await runP(e, chain);
    assert.deepEqual(Object.values(statuses(second)), Array(7).fill("cached"));
    assert.ok(status(e, plan(chain)).every((s) => s.status === "cached"));
  }));

test("changing one param reruns exactly that instance and its dependants", () =>
  withEngine(async (e) => {
    await runP(e, chain);
    const s = await runP(e, chain, ["b.value=4"]); // sum 1+4=5, parity 1 again
    assert.deepEqual(statuses(s), { a: "cached", b: "ran", sum: "ran", par: "ran", dbl: "cached", dir: "ran", read: "ran" });
  }));

test("early cutoff: a byte-identical output keeps dependants cached", () =>
  withEngine(async (e) => {
    await runP(e, chain); // sum = 3, par = 1
    const s = await runP(e, chain, ["chain.a=3"]); // sum = 5, par = 1 again
    assert.equal(statuses(s).par, "ran");
    assert.equal(statuses(s).dbl, "cached", "par's output did not change, so dbl stays cached");
    // status agrees before a run: a change upstream shows dependants as stale with the reason
    const st = status(e, plan(chain, { overrides: ["chain.a=7"] }));
    const a = st.find((x) => x.id === "a")!;
    assert.equal(a.status, "stale");
    assert.deepEqual(a.reasons, ["param value: 3 → 7"]);
    assert.match(st.find((x) => x.id === "sum")!.reasons.join(), /upstream a is stale/);
  }));

test("editing a stage's source (or a module it imports) in a temp copy makes it rerun", async () => {
  const dir = join(process.cwd(), ".acft-tmp", `fp-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(join(dir, "helper.ts"), "export const k = 3;\n");
    writeFileSync(join(dir, "stage.ts"), `
import { Effect, Schema } from "effect";
import { defineStage, Output } from "../../engine/Stage.ts";
import { k } from "./helper.ts";
export const times = defineStage({ name: "times", version: 1, module: import.meta.url, process: "inline",
  params: Schema.Struct({}), inputs: {}, output: Output.value(Schema.Number), run: () => Effect.succeed(2 * k) });
`);
    const mod = await import(pathToFileURL(join(dir, "stage.ts")).href);
    const p = definePipeline({ name: "edit", description: "", params: Schema.Struct({}), build: (b) => void b.add(mod.times, { id: "t" }) });
    await withEngine(async (e) => {
      assert.equal((await runP(e, p)).instances[0].status, "ran");
      assert.equal((await runP(e, p)).instances[0].status, "cached");
      appendFileSync(join(dir, "stage.ts"), "// a comment: the code changed, the version did not\n");
      assert.equal((await runP(e, p)).instances[0].status, "ran");
      appendFileSync(join(dir, "helper.ts"), "// imported module edited\n");
      const st = status(e, plan(p));
      assert.equal(st[0].status, "stale");
      assert.ok(st[0].reasons.some((r) => /code changed: .*helper\.ts/.test(r)), st[0].reasons.join());
      assert.equal((await runP(e, p)).instances[0].status, "ran");
      assert.equal((await runP(e, p)).instances[0].status, "cached");
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("external inputs: a changed data file reruns what read it; untouched data does not", () =>
  withEngine(async (e) => {
    const data = tempDir("acft-data-");
    writeFileSync(join(data, "a.txt"), "one");
    writeFileSync(join(data, "b.txt"), "bee");
    const go = () => runP(e, external, [`external.dataDir=${data}`]);
    assert.deepEqual(statuses(await go()), { read: "ran", unrelated: "ran" });
    assert.deepEqual(statuses(await go()), { read: "cached", unrelated: "cached" });
    const hashed = (e.db.db.prepare("SELECT count(*) AS n FROM file_digests").get() as { n: number }).n;
    assert.equal(hashed, 2, "per-file digests are cached by path+size+mtime");
    writeFileSync(join(data, "b.txt"), "bees!");
    assert.deepEqual(statuses(await go()), { read: "ran", unrelated: "cached" });
    const missing = await runP(e, external, [`external.dataDir=${join(data, "nope")}`]);
    const f = missing.instances.find((i) => i.id === "data")!;
    assert.equal(f.status, "failed");
    assert.match(f.error!, /external input .*nope does not exist/);
  }));

test("failures are never cached; --keep-going runs the independent branch", () =>
  withEngine(async (e) => {
    const stop = await runP(e, failing, [], 1);
    assert.equal(statuses(stop).bad, "failed");
    assert.equal(statuses(stop).after, "skipped");
    assert.match(stop.instances.find((i) => i.id === "bad")!.error!, /boom: asked to fail/);
    const keys = (e.db.db.prepare("SELECT instance_id FROM cache").all() as Array<{ instance_id: string }>).map((r) => r.instance_id);
    assert.ok(!keys.includes("bad"));
    const keep = await e.run(plan(failing), { jobs: 1, keepGoing: true });
    assert.deepEqual(statuses(keep), { a: "cached", bad: "failed", after: "skipped", c: statuses(keep).c, other: "ran" });
    const fixed = await runP(e, failing, ["failing.fail=false"]);
    assert.equal(statuses(fixed).bad, "ran");
    assert.equal(statuses(fixed).after, "ran");
  }));

test("bad params or an unknown key write nothing to the store", async () => {
  const root = tempDir();
  await withEngine(async (e) => {
    assert.throws(() => plan(chain, { overrides: ["a.value=oops"] }), (x: any) => x._tag === "DecodeError");
    assert.throws(() => plan(chain, { overrides: ["a.nope=1"] }), (x: any) => x._tag === "UnknownOverrideKey");
    assert.equal((e.db.db.prepare("SELECT count(*) AS n FROM cache").get() as { n: number }).n, 0);
    assert.equal((e.db.db.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n, 0);
    assert.deepEqual(readdirSync(e.store.objects), []);
  }, root);
});

test("directory artifacts are content-addressed and survive a missing-artifact recovery", () =>
  withEngine(async (e) => {
    await runP(e, chain);
    const st = status(e, plan(chain));
    const dir = st.find((s) => s.id === "dir")!;
    assert.ok(existsSync(join(e.store.path("directory", dir.outputDigest!), "sub", "f2.txt")));
    rmSync(e.store.path("directory", dir.outputDigest!), { recursive: true });
    assert.deepEqual(status(e, plan(chain)).find((s) => s.id === "dir")!.reasons, ["artifact missing from the store (removed by gc or by hand)"]);
    const again = await runP(e, chain);
    assert.equal(statuses(again).dir, "ran");
    assert.equal(statuses(again).read, "cached", "same bytes again → same digest → dependant cached");
  }));

test("result tables are restored on a cache hit; a held lock times out with a clear message", () =>
  withEngine(async (e) => {
    await runP(e, chain);
    e.db.db.exec("DELETE FROM doubled");
    assert.deepEqual(statuses(await runP(e, chain)).dbl, "cached");
    assert.deepEqual(e.db.tables().doubled.map((r) => [r.method, r.value, r.instance_id]), [["double", 2, "dbl"]]);
    // another (live) holder computes b's new key: this run waits, then gives up with LockTimeout
    const p = plan(chain, { overrides: ["b.value=6"] });
    const key = status(e, p).find((s) => s.id === "b")!.key!;
    assert.equal(e.db.tryLock(key, "b", "someone-else", () => true, 30_000), undefined);
    const s = await e.run(p, { jobs: 1, lockTimeoutMs: 300 });
    const b = s.instances.find((i) => i.id === "b")!;
    assert.equal(b.status, "failed");
    assert.match(b.error!, new RegExp(`instance b: waited 0.3 s for b in process ${process.pid} .*--lock-timeout`));
    assert.equal(e.db.cacheGet(key), undefined);
    e.db.unlock(key, "someone-else");
    assert.equal(statuses(await runP(e, chain, ["b.value=6"])).b, "ran");
  }));
