// The study graphs, planned without running anything: wiring of the schedules (docs/method.md §4), the
// seven Table-1 rows, and what `--set finetune.lambda` touches.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dependants, plan, type Plan, type PlanNode } from "../../engine/Graph.ts";
import { ablations } from "../../pipelines/ablations.ts";
import { paper } from "../../pipelines/paper.ts";
import { seeds } from "../../pipelines/seeds.ts";
import { smoke } from "../../pipelines/smoke.ts";
import { JUDGE_MAX_CONTEXT, judgeBudget, SIZE_NAMES, SIZES } from "../../pipelines/sizes.ts";

type StageNode = Extract<PlanNode, { kind: "stage" }>;
const node = (p: Plan, id: string): StageNode => {
  const n = p.byId.get(id) ?? p.nodes.find((x) => x.aliases.includes(id));
  assert.ok(n && n.kind === "stage", `instance ${id} is in the plan`);
  return n as StageNode;
};
/** Transitive upstream ids of an instance. */
const upstream = (p: Plan, id: string): Set<string> => {
  const out = new Set<string>();
  const walk = (i: string) => {
    const n = p.byId.get(i);
    if (n?.kind === "stage") for (const s of Object.values(n.inputs)) if (!out.has(s)) out.add(s), walk(s);
  };
  walk(id);
  return out;
};

test("paper: seven Table-1 rows, each with four evaluations, and the three tables", () => {
  const p = plan(paper);
  const t1 = node(p, "table-1");
  assert.equal(Object.keys(t1.inputs).length, 28);
  for (const id of ["win-rates", "jigsaw-table", "judge-lm", "toxicity-oracle", "rl-model", "nado-decoding/model", "filtration-model"]) node(p, id);
  // Table 1 reports the test half of the prompts; toxicity by group reads the same seven evaluations.
  assert.equal(node(p, t1.inputs.sftTox).params.split, "test");
  const byGroup = node(p, "toxicity-by-group");
  assert.deepEqual(byGroup.inputs, Object.fromEntries(Object.entries(t1.inputs).filter(([k]) => k.endsWith("Tox")).map(([k, v]) => [k.slice(0, -3), v])));
  assert.equal(Object.keys(byGroup.inputs).length, 7);
  assert.ok(!p.nodes.some((n) => n.kind === "stage" && n.params.split === "validation"), "paper evaluates no validation prompts");
  // Ours rows: the final models of I = 3 iterations.
  assert.equal(t1.inputs.oursAdaptiveTox, "eval/oursAdaptive/toxicity");
  assert.equal(node(p, "eval/oursAdaptive/toxicity").inputs.model, "ours-ad-par/i3/finetune");
  assert.equal(node(p, "ours-ad-par/i3/finetune").params.adaptive, true);
  assert.equal(node(p, "ours-par/i3/finetune").params.adaptive, false);
  // SFT trains for as many steps as the three iterations together.
  assert.equal(node(p, "sft-model").params.steps, 3 * (node(p, "ours-ad-par/i1/finetune").params.steps as number));
});

test("parallel schedule: the jobs of iteration i read only iteration i−1's outputs", () => {
  const p = plan(paper, { overrides: ["paper.schedule=parallel"] });
  const ft3 = node(p, "ours-ad-par/i3/finetune");
  assert.deepEqual(ft3.inputs.model, "ours-ad-par/i2/finetune");
  assert.deepEqual(ft3.inputs.nado, "ours-ad-par/i2/nado");
  const nado2 = node(p, "ours-ad-par/i2/nado");
  assert.equal(nado2.stage.name, "nadoWarm");
  assert.deepEqual({ base: nado2.inputs.base, init: nado2.inputs.init }, { base: "ours-ad-par/i1/finetune", init: "ours-par/i1/nado" });
  // The three jobs of iteration 2 are mutually independent (the executor runs them concurrently).
  const jobs = ["ours-ad-par/i2/finetune", "ours-ad-par/i2/nado", "ours-ad-par/i2/sample"].map((id) => node(p, id).id);
  for (const a of jobs) for (const b of jobs) if (a !== b) assert.ok(!upstream(p, a).has(b), `${a} does not wait for ${b}`);
  // Iteration 1 is shared by the adaptive and non-adaptive chains (deduplicated by the planner).
  assert.equal(node(p, "ours-ad-par/i1/nado").id, node(p, "ours-par/i1/nado").id);
});

test("sequential schedule: sample → NADO → fine-tune within each iteration", () => {
  const p = plan(paper, { overrides: ["paper.schedule=sequential"] });
  const ft2 = node(p, "ours-ad-seq/i2/finetune");
  assert.equal(ft2.inputs.nado, "ours-ad-seq/i2/nado");
  assert.equal(node(p, "ours-ad-seq/i2/nado").inputs.samples, "ours-ad-seq/i2/sample");
  assert.equal(node(p, "ours-ad-seq/i2/sample").inputs.model, "ours-ad-seq/i1/finetune");
  assert.ok(upstream(p, "ours-ad-seq/i3/finetune").has("ours-ad-seq/i3/sample"));
});

test("--set finetune.lambda changes only the regularised fine-tunes' params (and so their dependants)", () => {
  const a = plan(smoke), b = plan(smoke, { overrides: ["finetune.lambda=0.3"] });
  const changed = a.nodes.filter((n) => n.kind === "stage" && JSON.stringify(n.paramsEncoded) !== JSON.stringify((b.byId.get(n.id) as StageNode).paramsEncoded));
  assert.ok(changed.length > 0);
  assert.deepEqual([...new Set(changed.map((n) => (n as StageNode).stage.name))], ["finetune"]);
  const affected = new Set(changed.flatMap((n) => [n.id, ...dependants(a, n.id)]));
  for (const id of ["sft-model", "rl-model", "base-lm", "toxicity-oracle", "nado-decoding/model", "eval/sft/toxicity"]) assert.ok(!affected.has(node(a, id).id), `${id} is untouched`);
  for (const id of ["eval/oursAdaptive/toxicity", "table-1", "schedules-table", "jigsaw-table"]) assert.ok(affected.has(node(a, id).id), `${id} reruns`);
});

test("ablations and seeds plan: the schedules table, the sweeps, one Table 1 per seed", () => {
  const ab = plan(ablations);
  const sched = node(ab, "schedules-table");
  assert.ok(Object.keys(sched.inputs).includes("sequential_3_finetune") && Object.keys(sched.inputs).includes("parallel_3_finetune"));
  // each λ: test toxicity, validation toxicity, perplexity — the sweep picks on validation and reports test
  const sweep = node(ab, "lambda_sweep-table");
  assert.equal(Object.keys(sweep.inputs).length, 15);
  assert.equal(node(ab, sweep.inputs["0.3Tox"]).params.split, "test");
  assert.equal(node(ab, sweep.inputs["0.3ToxVal"]).params.split, "validation");
  assert.equal(node(ab, sweep.inputs["0.3ToxVal"]).id, node(ab, "eval/lambda-0.3/toxicity-validation").id);
  assert.equal(node(ab, sweep.inputs["0.3ToxVal"]).inputs.model, node(ab, sweep.inputs["0.3Tox"]).inputs.model);
  for (const t of ["alpha_sweep-table", "iterations-table"]) assert.ok(Object.keys(node(ab, t).inputs).some((k) => k.endsWith("ToxVal")), t);
  const lambdas = ab.nodes.filter((n) => n.kind === "stage" && n.stage.name === "finetune" && n.id.endsWith("/i3/finetune")).map((n) => (n as StageNode).params.lambda);
  assert.deepEqual([...new Set(lambdas)].sort(), [0, 0.1, 0.3, 1, 3]);
  assert.deepEqual(Object.keys(node(plan(seeds), "table1-seeds").inputs), ["seed1", "seed2", "seed3", "seed4", "seed5"]);
  const s = plan(seeds, { overrides: ["seeds.seeds=[1,2]"] });
  assert.deepEqual(Object.keys(node(s, "table1-seeds").inputs).sort(), ["seed1", "seed2"]);
  assert.equal(node(s, "seed2/base-lm").params.seed, 2);
});

test("a data dir replaces the synthetic world with an external input", () => {
  const p = plan(paper, { overrides: ["paper.dataDir=/tmp/some-data"] });
  assert.equal(p.byId.get("data")?.kind, "external");
  assert.equal(plan(paper).byId.get("data")?.kind, "stage");
});

test("--model: the base is the imported checkpoint, the tokenizer and pretraining stages drop out, the judge uses its tokenizer", () => {
  for (const pipeline of [paper, ablations, seeds]) {
    const p = plan(pipeline, { overrides: [`${pipeline.name}.model=/models/tiny.gguf`] });
    const stages = new Set(p.nodes.flatMap((n) => (n.kind === "stage" ? [n.stage.name] : [])));
    assert.ok(!stages.has("pretrain") && !stages.has("tokenizer"), `${pipeline.name}: ${[...stages].join(", ")}`);
    const base = node(p, "base-lm");
    assert.equal(base.stage.name, "importModel");
    assert.equal(p.byId.get(base.inputs.checkpoint)?.kind, "external");
    if (pipeline === paper) assert.equal(node(p, "judge-lm").inputs.tokenizer, base.id);
  }
  const own = plan(paper);
  assert.equal(node(own, "base-lm").stage.name, "pretrain");
});

test("the judge's budget is derived from the base's: wider, deeper, at least 2× its steps and the longest judged chain", () => {
  // Hand-worked: a grown base (d 256, 8 heads of 32, 6 blocks, 2,000 steps; I = 3 × 400 + RL 500).
  const preset = { ...SIZES.small, arch: { dModel: 256, nLayers: 6, nHeads: 8, contextLength: 256 }, pretrain: { steps: 2000, batchSize: 32, lr: 5e-4 }, iterations: 3, finetune: { ...SIZES.small.finetune, steps: 400 }, rl: { ...SIZES.small.rl, steps: 500 } };
  assert.deepEqual(judgeBudget(preset), {
    judgeArch: { dModel: 384, nLayers: 7, nHeads: 12, contextLength: JUDGE_MAX_CONTEXT }, // 256 capped at 128
    judge: { steps: 4000, batchSize: 32, lr: 5e-4 },
  });
  // A long fine-tuning chain outgrows 2× pretraining: 2,000 + 3 × 1,000 + 500 = 5,500 steps.
  assert.equal(judgeBudget({ ...preset, finetune: { ...preset.finetune, steps: 1000 } }).judge.steps, 5500);
  // Odd head counts round up: 3 heads of 16 → 5 heads of 16.
  assert.deepEqual(judgeBudget({ ...preset, arch: { dModel: 48, nLayers: 1, nHeads: 3, contextLength: 32 } }).judgeArch, { dModel: 80, nLayers: 2, nHeads: 5, contextLength: 32 });
  for (const n of SIZE_NAMES) {
    const S = SIZES[n];
    assert.ok(S.judgeArch.dModel > S.arch.dModel && S.judgeArch.nLayers > S.arch.nLayers && S.judgeArch.dModel % S.judgeArch.nHeads === 0, n);
    assert.equal(S.judgeArch.contextLength, Math.min(S.arch.contextLength, JUDGE_MAX_CONTEXT), n);
    assert.ok(S.judge.steps >= 2 * S.pretrain.steps && S.judge.steps >= S.pretrain.steps + S.iterations * S.finetune.steps + S.rl.steps, n);
    // The planned judge instance trains on exactly that budget.
    const j = node(plan(paper, { overrides: [`paper.size=${n}`] }), "judge-lm");
    assert.deepEqual([j.params.dModel, j.params.nLayers, j.params.nHeads, j.params.contextLength, j.params.steps], [S.judgeArch.dModel, S.judgeArch.nLayers, S.judgeArch.nHeads, S.judgeArch.contextLength, S.judge.steps]);
  }
});

test("win rates see the judge's held-out perplexity beside every judged model's (the same evalPerplexity)", () => {
  for (const pipeline of [paper, smoke]) {
    const p = plan(pipeline);
    const w = node(p, "win-rates");
    const jp = node(p, w.inputs.judgePpl);
    assert.equal(jp.id, "eval/judge/perplexity");
    assert.equal(jp.inputs.model, "judge-lm");
    const bp = node(p, w.inputs.basePpl);
    assert.equal(bp.id, "eval/base/perplexity");
    assert.deepEqual(jp.params, bp.params, "same held-out text");
    assert.equal(jp.inputs.data, bp.inputs.data);
    for (const m of ["sft", "filtration", "rl", "nado", "ours", "oursAdaptive"]) assert.equal(w.inputs[`${m}Ppl`], node(p, `eval/${m}/perplexity`).id);
  }
});

test("--judge-model: the judge is the imported checkpoint (an external input), the base is still pretrained", () => {
  for (const pipeline of [paper, smoke]) {
    const p = plan(pipeline, { overrides: [`${pipeline.name}.judgeModel=/models/judge.gguf`] });
    const j = node(p, "judge-lm");
    assert.equal(j.stage.name, "importModel");
    const ck = p.byId.get(j.inputs.checkpoint);
    assert.equal(ck?.kind, "external");
    assert.equal(node(p, "base-lm").stage.name, "pretrain");
    assert.equal(node(p, "eval/judge/perplexity").inputs.model, j.id);
  }
  assert.equal(node(plan(paper), "judge-lm").stage.name, "judge");
});

test("every stage instance of every pipeline is one a batch-job worker can load: exported by its module under its name, same version", async () => {
  const { pipelines } = await import("../../pipelines/index.ts");
  const { findStage } = await import("../../engine/Worker.ts");
  const seen = new Set<string>();
  for (const pl of pipelines)
    for (const n of plan(pl).nodes) {
      if (n.kind !== "stage") continue;
      const k = `${n.stage.module}#${n.stage.name}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const found = await findStage((url) => import(url), n.stage.module, n.stage.name);
      assert.equal(found.version, n.stage.version, k);
    }
  assert.ok([...seen].some((k) => k.endsWith("#ablationTable")) && [...seen].some((k) => k.endsWith("#seedsTable")) && [...seen].some((k) => k.endsWith("#schedules")));
});
