// The slurm executor against a real one-node Slurm cluster (cluster.ts): same keys, outputs and tables as
// a local run; a rerun submits nothing; failures, scancel and unsatisfiable dependencies are typed,
// classified errors with a log, and nothing they wrote becomes visible; --keep-going and --retries.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { plan, restrict } from "../../engine/Graph.ts";
import type { AnyPipeline } from "../../engine/Pipeline.ts";
import { Engine, type RunOptions, type RunSummary } from "../../engine/Runner.ts";
import { jobsForKey, recordJob } from "../../engine/JobStore.ts";
import { slurmExecutor, type SlurmOptions } from "../../engine/Slurm.ts";
import { stagingRoot } from "../../engine/Staging.ts";
import { demo } from "../../pipelines/demo.ts";
import { failing, slow } from "../engine/fixtures/pipelines.ts";
import { statuses, tempDir, withEngine } from "../engine/helpers.ts";
import { slurmMissing, startCluster, type Cluster } from "./cluster.ts";
import { retry, threaded } from "./fixtures/pipelines.ts";

const skip = slurmMissing();
let cluster: Cluster | undefined;
before(async () => {
  if (skip) return;
  cluster = await startCluster();
  process.env.SLURM_CONF = cluster.env.SLURM_CONF;
  process.env.ACFT_SLURM_POLL_MS = "250";
});
after(async () => cluster?.stop());

const onSlurm = (e: Engine, p: AnyPipeline, overrides: string[] = [], opts: RunOptions & { slurm?: SlurmOptions; only?: string[] } = {}): Promise<RunSummary> =>
  e.run(restrict(plan(p, { overrides }), opts.only ?? []), { jobs: 8, ...opts, executor: (eng) => slurmExecutor(eng, opts.slurm ?? {}) });

const byId = (s: RunSummary) => new Map(s.instances.map((i) => [i.id, i]));
const noStaging = (root: string) => !existsSync(stagingRoot(root)) || readdirSync(stagingRoot(root)).length === 0;
const until = async (cond: () => boolean, what: string, ms = 60_000): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};
const jobRow = (e: Engine, instance: string) =>
  e.db.db.prepare("SELECT * FROM jobs WHERE instance_id=? ORDER BY rowid DESC LIMIT 1").get(instance) as
    | { job_id: string; state: string; node: string; exit_code: number | null; log: string; run_id: number } | undefined;

test("demo under --executor slurm: the same keys, outputs and tables as a local run; a rerun is all cached and submits nothing", { skip }, async () => {
  const local = await withEngine(async (e) => {
    const s = await e.run(plan(demo), { jobs: 2 });
    return { s, cache: e.db.cacheEntries(), tables: e.db.tables() };
  });
  await withEngine(async (e, root) => {
    const s = await onSlurm(e, demo);
    assert.deepEqual(Object.values(statuses(s)), Array(6).fill("ran"));
    // Every instance (inline ones too) ran as a Slurm job, on the node, COMPLETED.
    const jobs = e.db.db.prepare("SELECT * FROM jobs").all() as Array<{ instance_id: string; state: string; node: string }>;
    assert.deepEqual(jobs.map((j) => j.instance_id).sort(), s.instances.map((i) => i.id).sort());
    assert.ok(jobs.every((j) => j.state === "COMPLETED" && j.node !== ""), JSON.stringify(jobs));
    const done = cluster!.completed().length;
    assert.ok(done >= 6, `jobcomp has ${done} records`);
    // Same keys and output digests as the local run.
    const digests = (c: ReturnType<typeof e.db.cacheEntries>) => Object.fromEntries(c.map((x) => [x.cache_key, x.output_digest]));
    assert.deepEqual(digests(e.db.cacheEntries()), digests(local.cache));
    assert.deepEqual(s.instances.map((i) => i.key), local.s.instances.map((i) => i.key));
    const strip = (t: Record<string, Array<Record<string, unknown>>>) =>
      Object.fromEntries(Object.entries(t).map(([k, rows]) => [k, rows.map(({ run_id: _r, ...rest }) => rest)]));
    assert.deepEqual(strip(e.db.tables()), strip(local.tables));
    const totals = e.db.db.prepare("SELECT value FROM metrics WHERE name='total' ORDER BY value").all() as Array<{ value: number }>;
    assert.deepEqual(totals.map((m) => m.value), [140, 280, 420]); // metrics reach the head from the staged events
    assert.ok(noStaging(root), "the staging area is empty after the run");
    // The rerun: all cached, no new job.
    const again = await onSlurm(e, demo);
    assert.deepEqual(Object.values(statuses(again)), Array(6).fill("cached"));
    assert.equal((e.db.db.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n, 6);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(cluster!.completed().length, done);
  });
});

test("a stage that fails: FAILED with its exit code, the stage's error and its log; nothing cached or staged; --keep-going runs the rest", { skip }, async () => {
  await withEngine(async (e, root) => {
    const s = await onSlurm(e, failing, [], { keepGoing: true });
    assert.deepEqual(statuses(s), { a: "ran", bad: "failed", after: "skipped", c: "ran", other: "ran" });
    const bad = byId(s).get("bad")!;
    const row = jobRow(e, "bad")!;
    assert.match(bad.error!, new RegExp(`stage bad: Slurm job ${row.job_id} FAILED: it exited with code 1: .*boom: asked to fail; log ${row.log.replace(/[.[\]()]/g, "\\$&")}`));
    assert.equal(row.state, "FAILED");
    assert.equal(row.exit_code, 1);
    assert.ok(existsSync(row.log) && /boom: asked to fail/.test(readFileSync(row.log, "utf8")), "the job's log holds the stage's error");
    assert.equal(e.db.cacheGet(bad.key!), undefined);
    assert.ok(noStaging(root));
    const exec = e.db.db.prepare("SELECT status, error FROM executions WHERE instance_id='bad'").get() as { status: string; error: string };
    assert.equal(exec.status, "failed");
    assert.match(exec.error, /Slurm job \d+ FAILED/);
  });
});

test("scancel: CANCELLED, nothing visible; an unsatisfiable dependency is its own state", { skip }, async () => {
  await withEngine(async (e, root) => {
    const gate = join(tempDir(), "never");
    const running = onSlurm(e, slow, [`slow.gate=${gate}`, "slow.ms=10"], { only: ["s1"] });
    await until(() => jobRow(e, "s1")?.state === "RUNNING", "s1's job to run");
    const id = jobRow(e, "s1")!.job_id;
    cluster!.client("scancel", [id]);
    const s = await running;
    const r = byId(s).get("s1")!;
    assert.equal(r.status, "failed");
    assert.match(r.error!, new RegExp(`stage s1: Slurm job ${id} CANCELLED: it was cancelled .*; log `));
    assert.equal(jobRow(e, "s1")!.state, "CANCELLED");
    assert.equal(e.db.cacheGet(r.key!), undefined);
    assert.ok(noStaging(root));
    // A dependency on a job that failed can never be satisfied (DependencyParameters=kill_invalid_depend).
    const failed = cluster!.client("sbatch", ["--parsable", "--output=/dev/null", "--wrap", "exit 3"]).trim();
    const d = await onSlurm(e, demo, [], { only: ["count"], slurm: { sbatchArgs: [`--dependency=afterok:${failed}`] } });
    const c = byId(d).get("count")!;
    assert.equal(c.status, "failed");
    assert.match(c.error!, /Slurm job \d+ DEPENDENCY_NEVER_SATISFIED: its dependency can never be satisfied/);
    assert.ok(noStaging(root));
  });
});

test("--retries: a failed attempt is resubmitted; only the successful attempt's rows and metrics are kept", { skip }, async () => {
  await withEngine(async (e) => {
    const dir = tempDir();
    const s = await onSlurm(e, retry, [`retry.dir=${dir}`], { retries: 1 });
    const r = byId(s).get("flaky")!;
    assert.equal(r.status, "ran", r.error);
    const jobs = jobsForKey(e.db, r.key!);
    assert.deepEqual(jobs.map((j) => j.state), ["FAILED", "COMPLETED"]);
    assert.deepEqual(e.db.tables().attempts.map((row) => row.first), [0]);
    const metrics = e.db.db.prepare("SELECT value FROM metrics WHERE name='first'").all() as Array<{ value: number }>;
    assert.deepEqual(metrics.map((m) => m.value), [0]);
    // Without retries the same failure is final.
    writeFileSync(join(dir, "unused"), "");
    const dir2 = tempDir();
    const once = await onSlurm(e, retry, [`retry.dir=${dir2}`]);
    assert.equal(byId(once).get("flaky")!.status, "failed");
  });
});

test("resources reach Slurm: --set <instance>.resources.cpus=2 is --cpus-per-task=2, and the worker's ACFT_THREADS", { skip }, async () => {
  await withEngine(async (e) => {
    const s = await onSlurm(e, threaded, ["t2.resources.cpus=2"]);
    assert.deepEqual(Object.values(statuses(s)), ["ran", "ran"]);
    const read = (id: string) => Number(e.store.readValue(e.db.lastForInstance(id)!.output_digest));
    assert.deepEqual([read("t1"), read("t2")], [1, 2]);
    const cpus = (id: string) => / ProcCnt=(\d+) /.exec(cluster!.completed().find((l) => l.includes(`JobId=${jobRow(e, id)!.job_id} `))!)![1];
    assert.deepEqual([cpus("t1"), cpus("t2")], ["1", "2"]);
  });
});

test("a job of a dead head that failed meanwhile is recorded as such, its staging dropped, and the instance submitted anew", { skip }, async () => {
  const key = await withEngine(async (e) => (await e.run(restrict(plan(demo), ["count"]), { jobs: 1 })).instances[0].key!);
  await withEngine(async (e, root) => {
    // What a head killed right after submitting leaves behind: a recorded job (here one that fails) and its staging.
    const failed = cluster!.client("sbatch", ["--parsable", "--output=/dev/null", "--wrap", "exit 4"]).trim();
    const staging = join(stagingRoot(root), "dead-head");
    mkdirSync(join(staging, "out"), { recursive: true });
    const runId = e.db.startRun("demo", "run demo");
    recordJob(e.db, "slurm", { job_id: failed, run_id: runId, instance_id: "count", cache_key: key, staging, log: "/dev/null", state: "RUNNING", node: "" });
    await until(() => cluster!.completed().some((l) => l.startsWith(`JobId=${failed} `)), "the job to fail");
    const s = await onSlurm(e, demo, [], { only: ["count"] });
    assert.equal(s.instances[0].status, "ran", s.instances[0].error);
    assert.deepEqual(jobsForKey(e.db, key).map((j) => [j.job_id === failed, j.state]), [[true, "FAILED"], [false, "COMPLETED"]]);
    assert.ok(noStaging(root));
  });
});

test("every Slurm client call has a timeout: a controller that does not answer fails the stage with a clear error", { skip }, async () => {
  const conf = join(tempDir(), "slurm.conf");
  // The same cluster description, pointing at a port nothing listens on.
  writeFileSync(conf, readFileSync(cluster!.env.SLURM_CONF!, "utf8").replace(/^SlurmctldPort=\d+$/m, "SlurmctldPort=9"));
  const saved = process.env.SLURM_CONF;
  process.env.SLURM_CONF = conf;
  try {
    await withEngine(async (e, root) => {
      const t0 = Date.now();
      const s = await onSlurm(e, demo, [], { only: ["count"], slurm: { clientTimeoutMs: 1500 } });
      const c = byId(s).get("count")!;
      assert.equal(c.status, "failed");
      assert.match(c.error!, /squeue .*did not answer within 2 s|sbatch .*(did not answer within 2 s|failed)/);
      assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms`);
      assert.ok(noStaging(root));
    });
  } finally {
    process.env.SLURM_CONF = saved;
  }
});
