// The `smoke` pipeline end to end through the real CLI (`acft run smoke --json`): every stage kind on
// the tiny size; a second run is all cache hits; `--set finetune.lambda=…` reruns only the regularised
// fine-tunes and what depends on them; outputs are byte-identical when recomputed, so deleted objects
// rerun only their producers (early cutoff).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import Database from "better-sqlite3";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dependants, plan } from "../../engine/Graph.ts";
import { smoke } from "../../pipelines/smoke.ts";

const root = new URL("../..", import.meta.url).pathname;
const JUDGE_FIXTURE = new URL("../fixtures/pretrained/tiny-llama.gguf", import.meta.url).pathname;
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

  await t.test("tables: table1 (7 methods), toxicity_by_group, winrates (+ pairs, judge perplexity), jigsaw, schedules, contamination", () => {
    const r = spawnSync(process.execPath, [join(root, "bin/acft.mjs"), "tables", "--format", "json", "--provenance", "--store", store], { cwd: root, encoding: "utf8" });
    const tables = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.deepEqual(tables.table1.map((row: { method: string }) => row.method), ["Base", "SFT", "Filtration", "RL", "NADO decoding", "Ours w/o adaptive", "Ours w/ adaptive"]);
    for (const row of tables.table1) for (const c of ["toxicity_pct", "mmlu", "commonsense", "perplexity"]) assert.equal(typeof row[c], "number", `${row.method}.${c}`);
    assert.ok(tables.table1.every((row: { perplexity: number }) => row.perplexity > 1));
    assert.equal(tables.winrates.length, 7);
    // Ties and decided shares: one row per method pair, wins + losses + ties = prompts.
    assert.equal(tables.winrate_pairs.length, 21);
    for (const q of tables.winrate_pairs) {
      assert.equal(q.wins + q.losses + q.ties, q.prompts, `${q.method_a} vs ${q.method_b}`);
      assert.equal(q.decided, (q.wins + q.losses) / q.prompts);
      const row = tables.winrates.find((r: { method: string }) => r.method === q.method_a);
      assert.ok(Math.abs(q.win_rate - (q.wins + q.ties / 2) / q.prompts) < 1e-12 && Object.values(row).includes(q.win_rate), "win_rate is the matrix cell");
    }
    // The judge's held-out perplexity beside the judged models', on the same text (same bytes), ranked.
    const judge = tables.winrate_judge;
    assert.deepEqual(judge.map((r: { model: string }) => r.model), ["Judge", ...tables.table1.map((r: { method: string }) => r.method)]);
    assert.deepEqual(judge.map((r: { role: string }) => r.role), ["judge", ...new Array(7).fill("judged")]);
    for (const [i, r] of judge.entries()) {
      assert.ok(r.perplexity > 1 && r.bits_per_byte > 0 && r.bytes === judge[0].bytes, JSON.stringify(r));
      assert.equal(r.rank, 1 + judge.filter((x: { bits_per_byte: number }) => x.bits_per_byte < r.bits_per_byte).length);
      if (i > 0) assert.equal(r.perplexity, tables.table1[i - 1].perplexity, `${r.model}: the perplexity Table 1 reports`);
    }
    assert.equal(tables.jigsaw.length, 4);
    assert.deepEqual(tables.schedules.map((s: { schedule: string }) => s.schedule), ["sequential", "parallel"]);
    // decontamination: rows per (evaluation set, training source); no overlap remains
    const cont = tables.contamination as Record<string, number | string>[];
    assert.ok(cont.some((r) => r.eval_set === "toxigen-safenlp" && r.train_source === "toxigen-prompts"));
    assert.deepEqual(cont.filter((r) => r.contaminated_train_texts !== 0 || r.contaminated_eval_texts !== 0 || r.overlapping_ngrams !== 0), []);
    assert.ok(tables.table1.every((row: { run_id: unknown; instance_id: unknown }) => row.run_id !== null && row.instance_id === "table-1"));
    // toxicity by target group: the same groups for every method, and each method's n-weighted % toxic over
    // its groups equals its Table-1 % toxic when every prompt has exactly one group (the synthetic world's case)
    type G = { method: string; group: string; n: number; toxicity_pct: number };
    const byGroup = tables.toxicity_by_group as G[];
    assert.deepEqual([...new Set(byGroup.map((r) => r.method))], tables.table1.map((row: { method: string }) => row.method));
    for (const row of tables.table1 as { method: string; toxicity_pct: number }[]) {
      const rs = byGroup.filter((r) => r.method === row.method);
      assert.deepEqual(rs.map((r) => r.group), byGroup.filter((r) => r.method === "Base").map((r) => r.group));
      const n = rs.reduce((a, r) => a + r.n, 0);
      assert.ok(Math.abs(rs.reduce((a, r) => a + r.n * r.toxicity_pct, 0) / n - row.toxicity_pct) < 1e-9, row.method);
    }
    const svg = join(store, "tables", "toxicity_by_group.svg");
    assert.ok(existsSync(svg) && readFileSync(svg, "utf8").includes("<title>toxicity_by_group</title>"), "the by-group plot is exported");
  });

  const second = acft("run", "smoke");
  assert.equal(second.code, 0);
  assert.deepEqual(second.json.instances.filter((i: Instance) => i.status !== "cached").map((i: Instance) => i.id), [], "second run is all cache hits");

  // --judge-model: a pretrained judge (the tiny random Llama fixture, with its own SentencePiece
  // tokenizer) replaces the trained one; the judge, its perplexity, the toxicity judge fine-tuned from
  // it, the toxicity evaluations it scores and the win rates rerun, and nothing else.
  const judged = acft("run", "smoke", "--judge-model", JUDGE_FIXTURE, "--only", "win-rates");
  assert.equal(judged.code, 0, judged.stderr.slice(-2000));
  assert.deepEqual(judged.json.instances.filter((i: Instance) => i.status !== "cached").map((i: Instance) => i.id).sort(),
    ["eval/base/toxicity", "eval/filtration/toxicity", "eval/judge/perplexity", "eval/nado/toxicity", "eval/ours/toxicity", "eval/oursAdaptive/toxicity", "eval/rl/toxicity", "eval/sft/toxicity", "judge-lm", "toxicity-judge", "win-rates"]);
  const t2 = JSON.parse(spawnSync(process.execPath, [join(root, "bin/acft.mjs"), "tables", "--format", "json", "--store", store], { cwd: root, encoding: "utf8" }).stdout.trim().split("\n").pop()!);
  const [pj, pb] = ["Judge", "Base"].map((m) => t2.winrate_judge.find((r: { model: string }) => r.model === m));
  assert.equal(pj.bytes, pb.bytes, "the same held-out text");
  assert.notEqual(pj.tokens, pb.tokens, "the judge's own tokenizer");
  assert.ok(pj.rank > 1, "a random-weight judge is not the best language model, and the table says so");
  assert.equal(t2.winrate_pairs.length, 21);

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
