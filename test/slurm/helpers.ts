// Shared set-up of the Slurm tests: one cluster per test file (skipped with a message when Slurm is not
// installed), runs under the slurm executor, and small probes of the store.
import { after, before } from "node:test";
import { until as pollUntil } from "../engine/helpers.ts";
import { existsSync, readdirSync } from "node:fs";
import { plan, restrict } from "../../engine/Graph.ts";
import type { AnyPipeline } from "../../engine/Pipeline.ts";
import type { Engine, RunOptions, RunSummary } from "../../engine/Runner.ts";
import { slurmExecutor, type SlurmOptions } from "../../engine/Slurm.ts";
import { stagingRoot } from "../../engine/Staging.ts";
import { slurmMissing, startCluster, type Cluster } from "./cluster.ts";

/** The reason to skip, or undefined; registers a cluster started before and stopped after the file's tests. */
export const useCluster = (pollMs = 250): { skip: string | undefined; cluster: () => Cluster } => {
  const skip = slurmMissing();
  let cluster: Cluster | undefined;
  before(async () => {
    if (skip) return;
    cluster = await startCluster();
    process.env.SLURM_CONF = cluster.env.SLURM_CONF;
    process.env.ACFT_SLURM_POLL_MS = String(pollMs);
  });
  after(async () => cluster?.stop());
  return { skip, cluster: () => cluster! };
};

export const onSlurm = (e: Engine, p: AnyPipeline, overrides: string[] = [], opts: RunOptions & { slurm?: SlurmOptions; only?: string[] } = {}): Promise<RunSummary> =>
  e.run(restrict(plan(p, { overrides }), opts.only ?? []), { jobs: 8, ...opts, executor: (eng) => slurmExecutor(eng, opts.slurm ?? {}) });

export const byId = (s: RunSummary) => new Map(s.instances.map((i) => [i.id, i]));

/** Nothing left in the staging area. */
export const noStaging = (root: string): boolean => !existsSync(stagingRoot(root)) || readdirSync(stagingRoot(root)).length === 0;

/** Poll every 100 ms (Slurm's state changes slowly), 60 s by default. */
export const until = (cond: () => boolean, what: string, ms = 60_000): Promise<void> => pollUntil(cond, what, ms, 100);

/** The newest job recorded for an instance. */
export const jobRow = (e: Engine, instance: string) =>
  e.db.db.prepare("SELECT * FROM jobs WHERE instance_id=? ORDER BY rowid DESC LIMIT 1").get(instance) as
    | { job_id: string; state: string; node: string; exit_code: number | null; log: string; run_id: number } | undefined;
