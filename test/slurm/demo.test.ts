// The slurm executor against a real one-node Slurm cluster (cluster.ts): `demo` gives the same keys,
// outputs and tables as a local run, and a rerun submits nothing; resources reach sbatch and the worker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { plan } from "../../engine/Graph.ts";
import { demo } from "../../pipelines/demo.ts";
import { statuses, tempDir, withEngine } from "../engine/helpers.ts";
import { external } from "../engine/fixtures/pipelines.ts";
import { threaded } from "./fixtures/pipelines.ts";
import { jobRow, noStaging, onSlurm, until, useCluster } from "./helpers.ts";

const { skip, cluster } = useCluster();

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
    await until(() => cluster().completed().length === 6, "the 6 job-completion records"); // written just after the job ends
    const done = cluster().completed().length;
    // Same keys and output digests as the local run.
    const digests = (c: ReturnType<typeof e.db.cacheEntries>) => Object.fromEntries(c.map((x) => [x.cache_key, x.output_digest]));
    assert.deepEqual(digests(e.db.cacheEntries()), digests(local.cache));
    assert.deepEqual(s.instances.map((i) => i.key), local.s.instances.map((i) => i.key));
    // Rows without the run id, in instance order (they are written in the order the instances finish).
    const strip = (t: Record<string, Array<Record<string, unknown>>>) =>
      Object.fromEntries(Object.entries(t).map(([k, rows]) => [k, rows.map(({ run_id: _r, ...rest }) => rest).sort((x, y) => String(x.instance_id).localeCompare(String(y.instance_id)))]));
    assert.deepEqual(strip(e.db.tables()), strip(local.tables));
    const totals = e.db.db.prepare("SELECT value FROM metrics WHERE name='total' ORDER BY value").all() as Array<{ value: number }>;
    assert.deepEqual(totals.map((m) => m.value), [140, 280, 420]); // metrics reach the head from the staged events
    assert.ok(noStaging(root), "the staging area is empty after the run");
    // The rerun: all cached, no new job.
    const again = await onSlurm(e, demo);
    assert.deepEqual(Object.values(statuses(again)), Array(6).fill("cached"));
    assert.equal((e.db.db.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n, 6);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(cluster().completed().length, done);
  });
});

test("resources reach Slurm: --set <instance>.resources.cpus=2 is --cpus-per-task=2, and the worker's ACFT_THREADS", { skip }, async () => {
  await withEngine(async (e) => {
    const s = await onSlurm(e, threaded, ["t2.resources.cpus=2"]);
    assert.deepEqual(Object.values(statuses(s)), ["ran", "ran"]);
    const read = (id: string) => Number(e.store.readValue(e.db.lastForInstance(id)!.output_digest));
    assert.deepEqual([read("t1"), read("t2")], [1, 2]);
    const cpus = (id: string) => / ProcCnt=(\d+) /.exec(cluster().completed().find((l) => l.includes(`JobId=${jobRow(e, id)!.job_id} `))!)![1];
    assert.deepEqual([cpus("t1"), cpus("t2")], ["1", "2"]);
  });
});

test("a relative external path resolves in the job as in the head (jobs run in the head's working directory)", { skip }, async () => {
  const data = join(tempDir(), "data");
  mkdirSync(data);
  writeFileSync(join(data, "a.txt"), "from the data directory");
  await withEngine(async (e) => {
    const s = await onSlurm(e, external, [`external.dataDir=${relative(process.cwd(), data)}`], { only: ["read"] });
    assert.equal(s.instances.find((i) => i.id === "read")!.status, "ran", s.instances.find((i) => i.id === "read")!.error);
    assert.equal(JSON.parse(e.store.readValue(e.db.lastForInstance("read")!.output_digest)), "from the data directory");
  });
});
