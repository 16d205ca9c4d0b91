// A stage that outlives its time limit (--set <instance>.resources.minutes=1) ends as TIMEOUT: a typed
// error naming the job, the state and the log, nothing cached or staged. Slurm counts limits in whole
// minutes and checks them every 30 s, so this takes 60-90 s.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { plan, restrict } from "../../engine/Graph.ts";
import { slurmExecutor } from "../../engine/Slurm.ts";
import { slow } from "../engine/fixtures/pipelines.ts";
import { tempDir, withEngine } from "../engine/helpers.ts";
import { noStaging, useCluster } from "./helpers.ts";

const { skip } = useCluster(500);

test("a stage past its time limit: TIMEOUT, with the job id and log; nothing cached or staged", { skip, timeout: 150_000 }, async () => {
  await withEngine(async (e, root) => {
    const gate = join(tempDir(), "never");
    const p = restrict(plan(slow, { overrides: [`slow.gate=${gate}`, "slow.ms=10", "s1.resources.minutes=1"] }), ["s1"]);
    assert.deepEqual(p.nodes[0].kind === "stage" && p.nodes[0].resources, { minutes: 1 });
    const t0 = Date.now();
    const s = await e.run(p, { jobs: 1, executor: (eng) => slurmExecutor(eng, {}) });
    const r = s.instances[0];
    assert.equal(r.status, "failed");
    const job = e.db.db.prepare("SELECT job_id, state, log FROM jobs WHERE instance_id='s1'").get() as { job_id: string; state: string; log: string };
    assert.equal(job.state, "TIMEOUT");
    assert.ok(r.error!.startsWith(`stage s1: Slurm job ${job.job_id} TIMEOUT: it reached its time limit; raise it with --set <stage>.resources.minutes=M; log ${job.log}`), r.error);
    assert.ok(existsSync(job.log));
    const secs = (Date.now() - t0) / 1000;
    assert.ok(secs >= 55, `ended after ${secs} s, before its 1-minute limit`);
    assert.equal(e.db.cacheGet(r.key!), undefined);
    assert.ok(noStaging(root));
  });
});
