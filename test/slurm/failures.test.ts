// How jobs end under the slurm executor, on a real one-node cluster: FAILED, CANCELLED, NODE_FAIL, an
// unsatisfiable dependency and unreachable controllers are typed, classified errors with a log, and
// nothing they wrote becomes visible; --keep-going and --retries; a dead head's failed job.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { plan, restrict } from "../../engine/Graph.ts";
import { jobsForKey, recordJob } from "../../engine/JobStore.ts";
import { stagingRoot } from "../../engine/Staging.ts";
import { demo } from "../../pipelines/demo.ts";
import { failing, slow } from "../engine/fixtures/pipelines.ts";
import { statuses, tempDir, withEngine } from "../engine/helpers.ts";
import { retry } from "./fixtures/pipelines.ts";
import { byId, jobRow, noStaging, onSlurm, until, useCluster } from "./helpers.ts";

const { skip, cluster } = useCluster();

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
    cluster().client("scancel", [id]);
    const s = await running;
    const r = byId(s).get("s1")!;
    assert.equal(r.status, "failed");
    assert.match(r.error!, new RegExp(`stage s1: Slurm job ${id} CANCELLED: it was cancelled .*; log `));
    assert.equal(jobRow(e, "s1")!.state, "CANCELLED");
    assert.equal(e.db.cacheGet(r.key!), undefined);
    assert.ok(noStaging(root));
    // A dependency on a job that failed can never be satisfied (DependencyParameters=kill_invalid_depend).
    const failed = cluster().client("sbatch", ["--parsable", "--output=/dev/null", "--wrap", "exit 3"]).trim();
    const d = await onSlurm(e, demo, [], { only: ["count"], slurm: { sbatchArgs: [`--dependency=afterok:${failed}`] } });
    const c = byId(d).get("count")!;
    assert.equal(c.status, "failed");
    assert.match(c.error!, /Slurm job \d+ DEPENDENCY_NEVER_SATISFIED: its dependency can never be satisfied/);
    assert.ok(noStaging(root));
  });
});

test("a node that goes down under a job: NODE_FAIL, with what to do; nothing visible", { skip }, async () => {
  await withEngine(async (e, root) => {
    const gate = join(tempDir(), "never");
    const running = onSlurm(e, slow, [`slow.gate=${gate}`, "slow.ms=10"], { only: ["s1"] });
    await until(() => jobRow(e, "s1")?.state === "RUNNING", "s1's job to run");
    const { job_id: id, node } = jobRow(e, "s1")!;
    cluster().client("scontrol", ["update", `nodename=${node}`, "state=down", "reason=acft-test"]);
    const r = (await running).instances[0];
    try {
      assert.equal(r.status, "failed");
      assert.match(r.error!, new RegExp(`stage s1: Slurm job ${id} NODE_FAIL: its node ${node} failed; rerun the same command to resubmit it; log `));
      assert.equal(e.db.cacheGet(r.key!), undefined);
      assert.ok(noStaging(root));
    } finally {
      try { cluster().client("scontrol", ["update", `nodename=${node}`, "state=resume"]); } catch { /* ReturnToService brought it back already */ }
      await until(() => cluster().client("sinfo", ["-h", "-o", "%T"]).trim() === "idle", "the node to be idle again", 30_000);
    }
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

test("a job of a dead head that failed meanwhile is recorded as such, its staging dropped, and the instance submitted anew", { skip }, async () => {
  const key = await withEngine(async (e) => (await e.run(restrict(plan(demo), ["count"]), { jobs: 1 })).instances[0].key!);
  await withEngine(async (e, root) => {
    // What a head killed right after submitting leaves behind: a recorded job (here one that fails) and its staging.
    const failed = cluster().client("sbatch", ["--parsable", "--output=/dev/null", "--wrap", "exit 4"]).trim();
    const staging = join(stagingRoot(root), "dead-head");
    mkdirSync(join(staging, "out"), { recursive: true });
    const runId = e.db.startRun("demo", "run demo");
    recordJob(e.db, "slurm", { job_id: failed, run_id: runId, instance_id: "count", cache_key: key, staging, log: "/dev/null", state: "RUNNING", node: "" });
    await until(() => cluster().completed().some((l) => l.startsWith(`JobId=${failed} `)), "the job to fail");
    const s = await onSlurm(e, demo, [], { only: ["count"] });
    assert.equal(s.instances[0].status, "ran", s.instances[0].error);
    assert.deepEqual(jobsForKey(e.db, key).map((j) => [j.job_id === failed, j.state]), [[true, "FAILED"], [false, "COMPLETED"]]);
    assert.ok(noStaging(root));
  });
});

test("every Slurm client call has a timeout: a controller that does not answer fails the stage with a clear error", { skip }, async () => {
  const conf = join(tempDir(), "slurm.conf");
  // The same cluster description, pointing at a port nothing listens on.
  writeFileSync(conf, readFileSync(cluster().env.SLURM_CONF!, "utf8").replace(/^SlurmctldPort=\d+$/m, "SlurmctldPort=9"));
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
