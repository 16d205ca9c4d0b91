// Head processes under --executor slurm: a head killed with SIGKILL leaves its jobs running; `acft status`
// lists them with their Slurm state; rerunning the same command re-attaches to them (one finished while
// no head watched, one still running) and submits nothing twice. Two heads on one store run each
// instance once.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { lastJson, startCli, tempDir, type Proc } from "../engine/helpers.ts";
import { slurmMissing, startCluster, type Cluster } from "./cluster.ts";
import { until } from "./helpers.ts";

const CLI = "test/slurm/fixtures/cli.ts";
const skip = slurmMissing();
let cluster: Cluster | undefined;
before(async () => {
  if (!skip) cluster = await startCluster();
});
after(async () => cluster?.stop());

const start = (args: string[]): Proc => startCli(CLI, args, { ...cluster!.env, ACFT_SLURM_POLL_MS: "250" });

interface JobRow { job_id: string; instance_id: string; state: string; run_id: number }
const jobs = (root: string): JobRow[] => {
  const db = new Database(join(root, "acft.sqlite"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT job_id, instance_id, state, run_id FROM jobs ORDER BY rowid").all() as JobRow[];
  } catch {
    return []; // not migrated yet
  } finally {
    db.close();
  }
};
const safeJobs = (root: string): JobRow[] => { try { return jobs(root); } catch { return []; } };
/** jobcomp records of jobs named after `instance`. */
const completions = (instance: string) => cluster!.completed().filter((l) => l.includes(` Name=acft:${instance} `));

test("a SIGKILLed head: status shows its jobs; the rerun re-attaches (finished and running jobs) without resubmitting", { skip }, async () => {
  const root = tempDir(), g1 = join(tempDir(), "g1"), g2 = join(tempDir(), "g2");
  const args = ["run", "slow", "--store", root, "--executor", "slurm", "--json", "--set", "slow.ms=10", "--set", `s1.gate=${g1}`, "--set", `s2.gate=${g2}`];
  const a = start(args);
  await until(() => safeJobs(root).filter((j) => j.state === "RUNNING").length === 2, "s1 and s2 to run");
  a.child.kill("SIGKILL");
  await a.done;
  // status (from another process) lists both jobs, RUNNING, from Slurm itself
  const st = start(["status", "slow", "--store", root, "--json", "--set", "slow.ms=10", "--set", `s1.gate=${g1}`, "--set", `s2.gate=${g2}`]);
  assert.equal(await st.done, 0, st.stderr);
  const inFlight = lastJson(st.stdout).jobs as Array<{ instance: string; state: string; jobId: string }>;
  assert.deepEqual(inFlight.map((j) => [j.instance, j.state]).sort(), [["s1", "RUNNING"], ["s2", "RUNNING"]]);
  const text = start(["status", "slow", "--store", root, "--set", "slow.ms=10", "--set", `s1.gate=${g1}`, "--set", `s2.gate=${g2}`]);
  await text.done;
  assert.match(text.stdout, /⧗ slurm job \d+ RUNNING on \S+: s1 \(run 1; log .*\)/);
  // s1 finishes while no head watches
  writeFileSync(g1, "");
  await until(() => completions("s1").length === 1, "s1's job to complete");
  const b = start(args);
  await until(() => b.stderr.includes("re-attached") || b.stdout.includes("re-attached") || safeJobs(root).some((j) => j.instance_id === "s2" && j.run_id === 2), "the rerun to re-attach to s2", 60_000);
  writeFileSync(g2, "");
  assert.equal(await b.done, 0, b.stderr);
  const r = lastJson(b.stdout);
  assert.deepEqual(Object.fromEntries(r.instances.map((i: { id: string; status: string }) => [i.id, i.status])), { s1: "ran", s2: "ran", total: "ran" });
  // one job per instance ever: nothing was resubmitted
  const all = jobs(root);
  assert.deepEqual(all.map((j) => j.instance_id).sort(), ["s1", "s2", "total"]);
  assert.ok(all.every((j) => j.state === "COMPLETED"), JSON.stringify(all));
  await until(() => completions("total").length === 1, "total's job record");
  assert.deepEqual([completions("s1").length, completions("s2").length, completions("total").length], [1, 1, 1]);
});

test("two heads on one store run each instance once", { skip }, async () => {
  const root = tempDir();
  const args = ["run", "demo", "--store", root, "--executor", "slurm", "--json", "--set", "demo.size=5"];
  const [a, b] = [start(args), start(args)];
  const [ca, cb] = [await a.done, await b.done];
  assert.equal(ca, 0, a.stderr);
  assert.equal(cb, 0, b.stderr);
  const sa = lastJson(a.stdout).instances as Array<{ id: string; status: string }>;
  const sb = lastJson(b.stdout).instances as Array<{ id: string; status: string }>;
  for (const [x, y] of sa.map((i, k) => [i, sb[k]]))
    assert.deepEqual([x.status, y.status].sort(), ["cached", "ran"], `${x.id}: ${x.status} / ${y.status}`);
  const all = jobs(root);
  assert.equal(all.length, 6, JSON.stringify(all));
  assert.equal(new Set(all.map((j) => j.instance_id)).size, 6);
});

// Jobs are submitted held and released once recorded. A head killed right after `sbatch` (the job not
// yet recorded) or right after recording it (not yet released) leaves a held job; the rerun finds it —
// by its name and comment, or by its record — releases it and waits for it, submitting nothing twice.
for (const at of ["submitted", "recorded"] as const) {
  test(`a head killed once a job is ${at}: the rerun adopts the held job and submits nothing twice`, { skip }, async () => {
    const root = tempDir();
    const args = ["run", "demo", "--store", root, "--executor", "slurm", "--json", "--set", "demo.size=3", "--only", "count"];
    const a = startCli(CLI, args, { ...cluster!.env, ACFT_SLURM_POLL_MS: "250", ACFT_TEST_KILL_AT: at });
    assert.notEqual(await a.done, 0, "the head was killed");
    const held = () => cluster!.client("squeue", ["--noheader", "--states=PENDING", "--name=acft:count", "--format=%i|%T|%r"]).trim().split("\n").filter(Boolean);
    assert.equal(held().length, 1, held().join("; "));
    assert.match(held()[0], /\|PENDING\|JobHeldUser$/);
    const orphanId = held()[0].split("|")[0];
    assert.equal(jobs(root).length, at === "submitted" ? 0 : 1, "recorded only after sbatch returned");
    const b = start(args);
    assert.equal(await b.done, 0, b.stderr);
    assert.match(b.stderr + b.stdout, new RegExp(`re-attached to Slurm job ${orphanId}`));
    assert.deepEqual(jobs(root).map((j) => [j.job_id, j.instance_id, j.state]), [[orphanId, "count", "COMPLETED"]]);
    await until(() => completions("count").some((l) => l.startsWith(`JobId=${orphanId} `)), "the adopted job's completion record");
    assert.equal(held().length, 0);
  });
}
