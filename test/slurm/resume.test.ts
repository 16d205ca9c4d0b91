// A stage that checkpoints into ctx.checkpointDir survives its job's node failing: with --retries the
// instance is resubmitted, resumes from the last checkpoint and ends with the output of an uninterrupted
// run; the checkpoint is gone once the instance succeeded. (A TIMEOUT or a preemption is resubmitted the
// same way; a node failure is simply the one a test can cause at a chosen moment.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { plan } from "../../engine/Graph.ts";
import { jobsForKey } from "../../engine/JobStore.ts";
import { tempDir, withEngine } from "../engine/helpers.ts";
import { resumable } from "./fixtures/pipelines.ts";
import { jobRow, noStaging, onSlurm, until, useCluster } from "./helpers.ts";

const { skip, cluster } = useCluster();

test("NODE_FAIL mid-stage + --retries: the resubmitted job resumes from its checkpoint; same output as uninterrupted", { skip }, async () => {
  const gate = join(tempDir(), "gate");
  const overrides = [`resumable.gate=${gate}`];
  // Uninterrupted (locally, the gate open from the start): the reference output.
  const reference = await withEngine(async (e) => {
    writeFileSync(gate, "");
    const s = await e.run(plan(resumable, { overrides }), { jobs: 1 });
    rmSync(gate);
    return { out: e.store.readValue(e.db.lastForInstance("loop")!.output_digest), key: s.instances[0].key! };
  });
  await withEngine(async (e, root) => {
    const ckpt = join(root, "store", "checkpoints", reference.key, "state.json");
    const logs: string[] = [];
    const running = onSlurm(e, resumable, overrides, { retries: 1, onEvent: (ev) => ev.type === "log" && logs.push(ev.message) });
    await until(() => existsSync(ckpt) && JSON.parse(readFileSync(ckpt, "utf8")).step === 3 && jobRow(e, "loop")?.state === "RUNNING", "the first attempt to pause at step 3");
    const { node, job_id: first } = jobRow(e, "loop")!;
    const stateOf = (id: string) => (e.db.db.prepare("SELECT state FROM jobs WHERE job_id=?").get(id) as { state: string }).state;
    cluster().client("scontrol", ["update", `nodename=${node}`, "state=down", "reason=acft-test"]);
    try {
      await until(() => stateOf(first) === "NODE_FAIL", "the node failure"); // then --retries submits the next attempt
    } finally {
      try { cluster().client("scontrol", ["update", `nodename=${node}`, "state=resume"]); } catch { /* back already */ }
    }
    const s = await running;
    const r = s.instances[0];
    assert.equal(r.status, "ran", r.error);
    assert.equal(r.key, reference.key);
    assert.equal(e.store.readValue(e.db.lastForInstance("loop")!.output_digest), reference.out);
    const jobs = jobsForKey(e.db, r.key!);
    assert.deepEqual(jobs.map((j) => j.state), ["NODE_FAIL", "COMPLETED"]);
    assert.deepEqual(logs.filter((m) => m.startsWith("resumed")), ["resumed from step 3"]);
    assert.ok(!existsSync(join(root, "store", "checkpoints", reference.key)), "the checkpoint is removed after success");
    assert.ok(noStaging(root));
  });
});
