// The `smoke` pipeline end to end through the real CLI (`acft run smoke --json`): every stage kind on
// the tiny size; a second run is all cache hits; `--set finetune.lambda=…` reruns only the regularised
// fine-tunes and what depends on them; outputs are byte-identical when recomputed, so deleted objects
// rerun only their producers (early cutoff).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import Database from "better-sqlite3";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dependants, plan } from "../../engine/Graph.ts";
import { smoke } from "../../pipelines/smoke.ts";

const root = new URL("../..", import.meta.url).pathname;
const store = mkdtempSync(join(tmpdir(), "acft-smoke-"));
test.after(() => rmSync(store, { recursive: true, force: true }));

interface Instance { id: string; stage: string; status: string; seconds: number; error?: string }
const acft = (...args: string[]): { code: number; json: any; stderr: string } => {
  const r = spawnSync(process.execPath, [join(root, "bin/acft.mjs"), ...args, "--store", store, "--json"], { cwd: root, encoding: "utf8", timeout: 1_200_000 });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  return { code: r.status ?? -1, json: last ? JSON.parse(last) : undefined, stderr: r.stderr };
};
const byId = (instances: Instance[]) => new Map(instances.map((i) => [i.id, i]));

test("smoke: runs end to end, then all cached, then --set finetune.lambda reruns only what follows", async (t) => {
  const first = acft("run", "smoke");
  const failed = (first.json?.instances as Instance[] | undefined)?.filter((i) => i.status !== "ran") ?? [];
  assert.equal(first.code, 0, `first run failed:\n${failed.map((i) => `${i.id}: ${i.error}`).join("\n")}\n${first.stderr.slice(-2000)}`);
  assert.ok(first.json.instances.length > 40, "every stage kind is in the smoke pipeline");
  assert.ok(first.json.instances.every((i: Instance) => i.status === "ran"));

  await t.test("tables: table1 (7 methods), winrates, jigsaw, schedules, contamination", () => {
    const r = spawnSync(process.execPath, [join(root, "bin/acft.mjs"), "tables", "--format", "json", "--store", store], { cwd: root, encoding: "utf8" });
    const tables = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.deepEqual(tables.table1.map((row: { method: string }) => row.method), ["Base", "SFT", "Filtration", "RL", "NADO decoding", "Ours w/o adaptive", "Ours w/ adaptive"]);
    for (const row of tables.table1) for (const c of ["toxicity_pct", "mmlu", "commonsense", "perplexity"]) assert.equal(typeof row[c], "number", `${row.method}.${c}`);
    assert.ok(tables.table1.every((row: { perplexity: number }) => row.perplexity > 1));
    assert.equal(tables.winrates.length, 7);
    assert.equal(tables.jigsaw.length, 4);
    assert.deepEqual(tables.schedules.map((s: { schedule: string }) => s.schedule), ["sequential", "parallel"]);
    // decontamination: rows per (evaluation set, training source); no overlap remains
    const cont = tables.contamination as Record<string, number | string>[];
    assert.ok(cont.some((r) => r.eval_set === "toxigen-safenlp" && r.train_source === "toxigen-prompts"));
    assert.deepEqual(cont.filter((r) => r.contaminated_train_texts !== 0 || r.contaminated_eval_texts !== 0 || r.overlapping_ngrams !== 0), []);
    assert.ok(tables.table1.every((row: { run_id: unknown; instance_id: unknown }) => row.run_id !== null && row.instance_id === "table-1"));
  });

  const second = acft("run", "smoke");
  assert.equal(second.code, 0);
  assert.deepEqual(second.json.instances.filter((i: Instance) => i.status !== "cached").map((i: Instance) => i.id), [], "second run is all cache hits");

  const third = acft("run", "smoke", "--set", "finetune.lambda=0.5");
  assert.equal(third.code, 0, third.stderr.slice(-2000));
  const p = plan(smoke, { overrides: ["finetune.lambda=0.5"] });
  const finetunes = p.nodes.filter((n) => n.kind === "stage" && n.stage.name === "finetune").map((n) => n.id);
  const affected = new Set(finetunes.flatMap((id) => [id, ...dependants(p, id)]));
  const got = byId(third.json.instances);
  for (const id of finetunes) assert.equal(got.get(id)?.status, "ran", `${id} reruns`);
  for (const [id, i] of got) {
    if (!affected.has(id)) assert.equal(i.status, "cached", `${id} does not depend on finetune.lambda`);
    // Downstream of a rerun: ran, or cached by early cutoff when its inputs came out identical.
    else assert.ok(i.status === "ran" || i.status === "cached", `${id}: ${i.status}`);
  }
  assert.ok([...got.values()].filter((i) => i.status === "cached").length > 20, "the upstream (data, base LM, oracle, SFT, RL…) is reused");

  // Outputs are byte-identical across runs: deleting the objects of a sampling, a NADO and a fine-tuning
  // instance reruns exactly those three, and early cutoff keeps everything below them cached.
  const digests = outputDigests(third.json.runId);
  const victims = ["sample", "nado", "finetune"].map((stage) => third.json.instances.find((i: Instance) => i.stage === stage)!.id as string);
  for (const id of victims) rmSync(objectPath(digests.get(id)!), { recursive: true });
  const fourth = acft("run", "smoke", "--set", "finetune.lambda=0.5");
  assert.equal(fourth.code, 0, fourth.stderr.slice(-2000));
  assert.deepEqual(fourth.json.instances.filter((i: Instance) => i.status !== "cached").map((i: Instance) => i.id).sort(), [...victims].sort());
  const again = outputDigests(fourth.json.runId);
  for (const id of victims) assert.equal(again.get(id), digests.get(id), `${id} reproduces its output byte for byte`);

  // And for every stage: with every object gone, a rerun recomputes all of them to the same bytes.
  rmSync(join(store, "store", "objects"), { recursive: true });
  const fifth = acft("run", "smoke", "--set", "finetune.lambda=0.5");
  assert.equal(fifth.code, 0, fifth.stderr.slice(-2000));
  const all = outputDigests(fifth.json.runId);
  const recomputed = new Set(fifth.json.instances.filter((i: Instance) => i.status === "ran").map((i: Instance) => all.get(i.id)));
  // An instance may be a cache hit only on an object that another instance recomputed in this run.
  assert.deepEqual(fifth.json.instances.filter((i: Instance) => i.status !== "ran" && !recomputed.has(all.get(i.id))).map((i: Instance) => i.id), []);
  const differ = [...digests].filter(([id, d]) => all.get(id) !== d).map(([id]) => id);
  assert.deepEqual(differ, [], "instances whose output differs between two clean computations");
});

/** instance id → output digest of one run's executions. */
const outputDigests = (runId: number): Map<string, string> => {
  const db = new Database(join(store, "acft.sqlite"), { readonly: true });
  try {
    const rows = db.prepare("SELECT instance_id, output_digest FROM executions WHERE run_id=? AND output_digest IS NOT NULL").all(runId) as Array<{ instance_id: string; output_digest: string }>;
    return new Map(rows.map((r) => [r.instance_id, r.output_digest]));
  } finally {
    db.close();
  }
};
const objectPath = (digest: string): string => {
  const shard = join(store, "store", "objects", digest.slice(0, 2));
  return join(shard, readdirSync(shard).find((f) => f.startsWith(digest))!);
};
