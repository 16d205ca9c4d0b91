// Separate processes: SIGKILL mid-run, and two concurrent `acft run`s on one store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pidAlive } from "../../engine/ArtifactStore.ts";
import { RunStore } from "../../engine/RunStore.ts";
import { plan } from "../../engine/Graph.ts";
import { slow } from "./fixtures/pipelines.ts";
import { lastJson, startCli, tempDir, until, withEngine, type Proc } from "./helpers.ts";

const CLI = "test/engine/fixtures/cli.ts";

const start = (args: string[]): Proc => startCli(CLI, args);

test("SIGKILL mid-run leaves no visible artifact nor cached record; the next run recomputes", async () => {
  const root = tempDir(), pidFile = join(root, "worker.pid"), gate = join(root, "gate");
  // --jobs 1: s1 runs alone, so killing it stops the run (s2 would otherwise wait on the gate)
  const args = ["run", "slow", "--store", root, "--json", "--jobs", "1", "--set", "slow.ms=50", "--set", `slow.pidFile=${pidFile}`, "--set", `slow.gate=${gate}`];
  // 1) kill the worker process: the stage fails, nothing is cached
  const a = start(args);
  await until(() => existsSync(pidFile), "the worker to start");
  process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
  assert.equal(await a.done, 1);
  const sa = lastJson(a.stdout).instances.find((i: any) => i.id === "s1");
  assert.equal(sa.status, "failed");
  assert.match(sa.error, /killed by SIGKILL/);
  // 2) kill the whole run while its worker computes: the orphaned worker exits too
  rmSync(pidFile);
  const b = start(args);
  await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8") !== "", "the second worker");
  const worker = Number(readFileSync(pidFile, "utf8"));
  b.child.kill("SIGKILL");
  await b.done;
  await until(() => !pidAlive(worker), "the orphaned worker to exit", 20_000);
  const db = new RunStore(root);
  const cached = db.db.prepare("SELECT instance_id FROM cache").all() as Array<{ instance_id: string }>;
  assert.deepEqual(cached, [], "nothing was cached");
  const objects = join(root, "store", "objects");
  assert.deepEqual(readdirSync(objects), [], "no artifact is visible");
  db.close();
  // 3) the next run (same keys; in-process here) recomputes and succeeds; the killed run is marked interrupted
  writeFileSync(gate, "");
  await withEngine(async (e) => {
    const s = await e.run(plan(slow, { overrides: args.filter((x) => x.startsWith("slow.")) }), { jobs: 1 });
    assert.deepEqual(s.instances.map((i) => i.status), ["ran", "ran", "ran"]);
    const runs = e.db.db.prepare("SELECT status FROM runs ORDER BY run_id").all().map((r: any) => r.status);
    assert.deepEqual(runs, ["failed", "interrupted", "succeeded"]);
  }, root);
});

test("two concurrent runs on one store: each instance is executed exactly once", async () => {
  const root = tempDir(), gate = join(root, "gate");
  const args = ["run", "slow", "--store", root, "--json", "--set", "slow.ms=50", "--set", `slow.gate=${gate}`];
  const a = start(args), b = start(args);
  // both processes have reached s1 and s2: one computes each, the other waits on its lock
  const seen = (p: Proc, id: string) => p.stderr.includes(`▶ ${id} `) || p.stderr.includes(`… ${id} waiting`);
  await until(() => ["s1", "s2"].every((id) => seen(a, id) && seen(b, id)), "both runs to reach both sleepers");
  assert.ok(a.stderr.includes("waiting") || b.stderr.includes("waiting"), "one run waits for the other");
  writeFileSync(gate, "");
  assert.deepEqual([await a.done, await b.done], [0, 0], a.stderr + b.stderr);
  const ra = lastJson(a.stdout).instances, rb = lastJson(b.stdout).instances;
  for (const id of ["s1", "s2", "total"]) {
    const st = [ra, rb].map((r: any[]) => r.find((i) => i.id === id).status).sort();
    assert.deepEqual(st, ["cached", "ran"], `${id}: ${st}`);
  }
  const db = new RunStore(root);
  const ran = db.db.prepare("SELECT instance_id, count(*) AS n FROM executions WHERE status='ran' GROUP BY instance_id").all();
  assert.deepEqual(ran, [{ instance_id: "s1", n: 1 }, { instance_id: "s2", n: 1 }, { instance_id: "total", n: 1 }]);
  assert.deepEqual(db.db.prepare("SELECT * FROM locks").all(), [], "locks are released");
  // progress, metrics and table rows travel from the forked workers over IPC
  assert.match(a.stderr + b.stderr, /10\/10 ticks/);
  assert.deepEqual(db.db.prepare("SELECT instance_id, name, value, step FROM metrics WHERE name = 'slept_ms' ORDER BY instance_id").all(),
    [{ instance_id: "s1", name: "slept_ms", value: 50, step: 1 }, { instance_id: "s2", name: "slept_ms", value: 50, step: 1 }]);
  assert.deepEqual(db.tables().sleeps.map((r) => [r.method, r.instance_id]).sort(), [["sleepy-1", "s1"], ["sleepy-2", "s2"]]);
  db.close();
});

test("independent forked stages run at the same time in separate processes (jobs 2)", () =>
  withEngine(async (e, root) => {
    const gate = join(root, "gate"), pidFile = join(root, "s1.pid");
    const started = new Set<string>();
    // both sleepers wait for the gate: run serially, s2 could not start before s1 finished
    const run = e.run(plan(slow, { overrides: ["slow.ms=50", `slow.gate=${gate}`, `slow.pidFile=${pidFile}`] }), {
      jobs: 2,
      onEvent: (ev) => void (ev.type === "start" && started.add(ev.id)),
    });
    await until(() => started.has("s1") && started.has("s2") && existsSync(pidFile), "both sleepers to start");
    assert.notEqual(Number(readFileSync(pidFile, "utf8")), process.pid, "s1 runs in a worker process");
    writeFileSync(gate, "");
    const s = await run;
    assert.deepEqual(s.instances.map((i) => i.status), ["ran", "ran", "ran"]);
  }));
