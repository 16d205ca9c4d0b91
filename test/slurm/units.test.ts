// The pure parts of the slurm executor (no cluster needed): terminal-state classification, the sbatch
// flags of a stage's resources, job names, and resources through `--set`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Effect, Schema } from "effect";
import { localCpus, localThreads } from "../../engine/Executor.ts";
import { plan } from "../../engine/Graph.ts";
import { definePipeline } from "../../engine/Pipeline.ts";
import { param } from "../../engine/Params.ts";
import { classify, jobName, sbatchArgs, type JobInfo } from "../../engine/Slurm.ts";
import { defineStage, Output } from "../../engine/Stage.ts";

const info = (state: string, more: Partial<JobInfo> = {}): JobInfo => ({ id: "7", state, node: "n1", reason: "None", exitCode: 0, signal: 0, ...more });

test("every terminal state is classified, with what to do", () => {
  assert.deepEqual(classify(info("FAILED", { exitCode: 3 })), { state: "FAILED", why: "it exited with code 3" });
  assert.deepEqual(classify(info("FAILED", { exitCode: 0, signal: 9 })), { state: "FAILED", why: "it exited with code 0 (signal 9)" });
  assert.match(classify(info("TIMEOUT")).why, /time limit; raise it with --set <stage>.resources.minutes=M/);
  assert.match(classify(info("CANCELLED")).why, /cancelled/);
  assert.match(classify(info("NODE_FAIL")).why, /node n1 failed; rerun/);
  assert.match(classify(info("OUT_OF_MEMORY")).why, /out of memory; raise it with --set <stage>.resources.memMB=N/);
  assert.equal(classify(info("CANCELLED", { reason: "DependencyNeverSatisfied" })).state, "DEPENDENCY_NEVER_SATISFIED");
  assert.equal(classify(info("PENDING", { reason: "DependencyNeverSatisfied" })).state, "DEPENDENCY_NEVER_SATISFIED");
  assert.equal(classify(info("COMPLETED")).state, "COMPLETED");
  assert.deepEqual(classify(info("SPECIAL_EXIT", { reason: "x" })), { state: "SPECIAL_EXIT", why: "it ended in state SPECIAL_EXIT (x)" });
});

test("resources map to sbatch flags; cluster options and extra arguments follow (extra last, so they win)", () => {
  assert.deepEqual(sbatchArgs({}, {}), ["--cpus-per-task=1"]);
  assert.deepEqual(sbatchArgs({ cpus: 4, memMB: 8192, gpus: 1, minutes: 90.5 }, { partition: "gpu", account: "lab", qos: "high", sbatchArgs: ["--constraint=a100", "--cpus-per-task=8"] }), [
    "--cpus-per-task=4", "--mem=8192M", "--gres=gpu:1", "--time=90:30", "--partition=gpu", "--account=lab", "--qos=high", "--constraint=a100", "--cpus-per-task=8",
  ]);
  assert.equal(jobName("train[lr=0.0001,seed=0]"), "acft:train[lr=0.0001,seed=0]");
  assert.equal(jobName("a b/c\nd"), "acft:a_b_c_d");
  assert.equal(jobName("x".repeat(300)).length, 120);
});

const work = defineStage({
  name: "work", version: 1, module: import.meta.url,
  params: Schema.Struct({ size: param(Schema.Literal("tiny", "full"), "tiny", "preset") }),
  resources: (p) => (p.size === "full" ? { cpus: 8, memMB: 32_000, gpus: 1, minutes: 600 } : { cpus: 1, minutes: 10 }),
  inputs: {}, output: Output.value(Schema.Number),
  run: () => Effect.succeed(1),
});
const pipe = definePipeline({
  name: "pipe", description: "two instances",
  params: Schema.Struct({}),
  build: (p) => {
    p.add(work, { id: "small", params: { size: "tiny" } });
    p.add(work, { id: "big", params: { size: "full" } });
  },
});

test("resources: declared by params (size preset) < --set <stage>.resources.k < --set <instance>.resources.k; never in the key", () => {
  const res = (o: string[]) => Object.fromEntries(plan(pipe, { overrides: o }).nodes.map((n) => [n.id, n.kind === "stage" ? n.resources : undefined]));
  assert.deepEqual(res([]), { small: { cpus: 1, minutes: 10 }, big: { cpus: 8, memMB: 32_000, gpus: 1, minutes: 600 } });
  assert.deepEqual(res(["work.resources.minutes=5", "big.resources.gpus=2"]), {
    small: { cpus: 1, minutes: 5 }, big: { cpus: 8, memMB: 32_000, gpus: 2, minutes: 5 },
  });
  const keys = (o: string[]) => plan(pipe, { overrides: o }).nodes.map((n) => (n.kind === "stage" ? n.paramsEncoded : {}));
  assert.deepEqual(keys(["work.resources.cpus=3"]), keys([]));
  assert.throws(() => plan(pipe, { overrides: ["work.resources.cpu=2"] }), /unknown resource key; use <stage\|instance>.resources.<cpus\|memMB\|gpus\|minutes>/);
  assert.throws(() => plan(pipe, { overrides: ["nope.resources.cpus=2"] }), /unknown resource key/);
  assert.throws(() => plan(pipe, { overrides: ["work.resources.cpus=0"] }), /expected an integer ≥ 1/);
  assert.throws(() => plan(pipe, { overrides: ["work.resources.gpus=1.5"] }), /expected an integer ≥ 0/);
});

test("local executor: a worker gets its declared CPUs, else the cores divided among the concurrent jobs", () => {
  assert.equal(localCpus({}, 3, 2), 1);
  assert.equal(localCpus({}, 1, 8), 8);
  assert.equal(localCpus({}, 3, 8), 2);
  assert.equal(localCpus({ cpus: 4 }, 3, 2), 4);
  assert.equal(localThreads({ cpus: 4 }, 3, { ACFT_THREADS: "2" }, 8), "4");
  assert.equal(localThreads({}, 3, { ACFT_THREADS: "5" }, 8), "5");
  assert.equal(localThreads({}, 3, {}, 8), "2");
  assert.equal(localThreads({}, 1, {}, 8), undefined);
});

test("local executor: each forked worker's ACFT_THREADS is its granted CPUs", async () => {
  const { threaded } = await import("./fixtures/pipelines.ts");
  const { withEngine } = await import("../engine/helpers.ts");
  await withEngine(async (e) => {
    const read = (id: string) => Number(e.store.readValue(e.db.lastForInstance(id)!.output_digest));
    const saved = process.env.ACFT_THREADS;
    delete process.env.ACFT_THREADS;
    try {
      await e.run(plan(threaded, { overrides: ["t2.resources.cpus=3"] }), { jobs: 2 });
    } finally {
      if (saved !== undefined) process.env.ACFT_THREADS = saved;
    }
    assert.deepEqual([read("t1"), read("t2")], [localCpus({}, 2), 3]);
  });
});

test("gc removes staging directories no queued or running job refers to", async () => {
  const { withEngine } = await import("../engine/helpers.ts");
  const { recordJob } = await import("../../engine/JobStore.ts");
  const { gc } = await import("../../engine/Gc.ts");
  const { stagingRoot } = await import("../../engine/Staging.ts");
  const { mkdirSync, writeFileSync, readdirSync } = await import("node:fs");
  const { join } = await import("node:path");
  await withEngine(async (e, root) => {
    const dir = (name: string) => (mkdirSync(join(stagingRoot(root), name, "out"), { recursive: true }), writeFileSync(join(stagingRoot(root), name, "out", "x"), "12345"), join(stagingRoot(root), name));
    const run = e.db.startRun("p", "run p");
    recordJob(e.db, "slurm", { job_id: "1", run_id: run, instance_id: "a", cache_key: "k1", staging: dir("running"), log: "", state: "RUNNING", node: "" });
    recordJob(e.db, "slurm", { job_id: "2", run_id: run, instance_id: "b", cache_key: "k2", staging: dir("failed"), log: "", state: "FAILED", node: "" });
    dir("orphan");
    const r = gc(e, [], 10);
    assert.deepEqual(readdirSync(stagingRoot(root)), ["running"]);
    assert.ok(r.freedBytes >= 10);
  });
});
