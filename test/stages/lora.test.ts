// LoRA through the fine-tuning stages' glue (stages/lora.ts, stages/models.ts trainLM): the stage
// params map to LoRA settings (rank 0 = full fine-tuning); a LoRA run changes the model only by the
// merged adapter; the output directory is a plain model plus the adapter in PEFT's format beside it,
// which merges into the base to give exactly the saved model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { ADAPTER_CONFIG, readPeftAdapter } from "../../ml/formats/peft.ts";
import { lmVariables } from "../../ml/lm.ts";
import { disposeLora, mergeLora } from "../../ml/lora.ts";
import { ADAPTER_DIR, loraSettings, saveAdapter } from "../../stages/lora.ts";
import { createModel, loadModel, saveModel, trainLM, trainTokenizerInto, type Example } from "../../stages/models.ts";

await tf.setBackend("cpu");
const dir = mkdtempSync(join(tmpdir(), "acft-lora-stage-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const texts = ["the cat sat on the mat", "a dog ran in the park", "you are a fool and a liar", "the river flows to the sea"];
const examples: Example[] = texts.map((text, i) => ({ text, domain: i === 2 ? "toxic" : "general" }));
const arch = { dModel: 16, nLayers: 2, nHeads: 2, contextLength: 24, dropout: 0 };
const training = { steps: 8, batchSize: 4, lr: 2e-2, warmup: 0, weightDecay: 0, clipNorm: 1 };
const values = (m: { params: Parameters<typeof lmVariables>[0] }) => Object.fromEntries(Object.entries(lmVariables(m.params)).map(([k, v]) => [k, Array.from(v.dataSync())]));

test("stage params -> LoRA settings", () => {
  const cfg = { vocabSize: 64, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 4, dropout: 0 };
  const llama = { ...cfg, norm: "rmsnorm" as const, positions: "rope" as const, mlp: "swiglu" as const, qkvBias: false, projBias: false, mlpBias: false };
  const p = { loraRank: 8, loraAlpha: 16, loraDropout: 0.05, loraTargets: "auto" };
  assert.equal(loraSettings({ ...p, loraRank: 0 }, cfg), undefined, "rank 0: full fine-tuning");
  assert.deepEqual(loraSettings(p, cfg), { rank: 8, alpha: 16, dropout: 0.05, targetModules: ["c_attn"] });
  assert.deepEqual(loraSettings(p, llama)?.targetModules, ["q_proj", "v_proj"]);
  assert.deepEqual(loraSettings({ ...p, loraTargets: " q_proj, o_proj,down_proj " }, llama)?.targetModules, ["q_proj", "o_proj", "down_proj"]);
  assert.equal(loraSettings({ ...p, loraTargets: "all-linear" }, llama)?.targetModules, "all-linear");
});

test("trainLM with LoRA: the saved model is the base plus the merged adapter, saved beside it in PEFT's format", async () => {
  trainTokenizerInto(join(dir, "tok"), texts, 300, () => {});
  const base = createModel(join(dir, "tok"), arch, 1);
  await saveModel(base, join(dir, "base"));
  const m = await loadModel(join(dir, "base"));
  const settings = loraSettings({ loraRank: 2, loraAlpha: 4, loraDropout: 0.1, loraTargets: "c_attn,mlp.c_proj" }, m.config)!;
  const adapter = await trainLM(m, examples, training, 3, () => {}, undefined, undefined, settings);
  assert.ok(adapter && adapter.modules.length === 4);
  const out = join(dir, "out");
  await saveModel(m, out);
  await saveAdapter(out, adapter, m.config);
  disposeLora(adapter);
  assert.ok(existsSync(join(out, ADAPTER_DIR, ADAPTER_CONFIG)));
  assert.equal(JSON.parse(readFileSync(join(out, ADAPTER_DIR, ADAPTER_CONFIG), "utf8")).r, 2);
  // only the adapted weights moved
  const before = values(base), after = values(m);
  const moved = Object.keys(before).filter((k) => before[k].some((x, i) => x !== after[k][i]));
  assert.deepEqual(moved, ["h0.attnW", "h0.fc2W", "h1.attnW", "h1.fc2W"]);
  // base + the saved adapter, merged = the saved model
  const again = await loadModel(join(dir, "base"));
  const lora = await readPeftAdapter(join(out, ADAPTER_DIR), again.config);
  mergeLora(again.params, lora);
  const saved = await loadModel(out);
  assert.deepEqual(values(again), values(saved));
  disposeLora(lora);
  for (const x of [base, m, again, saved]) x.dispose();
});

test("trainLM with LoRA and a checkpoint: interrupted and resumed gives the uninterrupted adapter and model, bit for bit", async () => {
  const run = async (ckpt?: string, stopAt?: number, seen: number[] = []) => {
    const m = await loadModel(join(dir, "base"));
    const settings = loraSettings({ loraRank: 2, loraAlpha: 4, loraDropout: 0.1, loraTargets: "all-linear" }, m.config)!;
    try {
      const a = await trainLM(m, examples, { ...training, steps: 6 }, 5, (p) => {
        if (p.done === stopAt) throw new Error("interrupted"); // before step 3's save: the last save is step 2's
        seen.push(p.done);
      }, undefined, ckpt ? { dir: ckpt, every: 2 } : undefined, settings);
      const out = { model: values(m), b: a!.modules.map((u) => Array.from(u.b.dataSync())) };
      disposeLora(a!);
      return out;
    } finally {
      m.dispose();
    }
  };
  const whole = await run();
  const ckpt = join(dir, "lora-ckpt");
  await assert.rejects(run(ckpt, 3), /interrupted/);
  const seen: number[] = [];
  const resumed = await run(ckpt, undefined, seen);
  assert.deepEqual(seen, [3, 4, 5, 6], "it resumed after step 2");
  assert.deepEqual(resumed, whole);
});
