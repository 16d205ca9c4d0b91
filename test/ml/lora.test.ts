// LoRA (ml/lora.ts): the merge equals W + (α/r)·(BA)ᵀ computed in float64, column by column of the
// fused weights; the adapted forward equals a float64 reference of the merged weights; gradients of
// A and B equal central finite differences of the float64 reference loss; only the adapter trains
// (base weights bit-for-bit unchanged, no optimizer state for them); LoRA SFT through finetuneLM
// lowers the loss of a fixture model, also with the regulariser (λ > 0); bad targets are typed errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { EncodedExample } from "../../ml/batches.ts";
import { ConfigError } from "../../ml/errors.ts";
import { finetuneLM } from "../../ml/finetune.ts";
import { loadHfDirectory } from "../../ml/formats/hf.ts";
import { generateIds } from "../../ml/generate.ts";
import { trainRL } from "../../ml/rl.ts";
import { PRESETS, disposeParams, lmForward, lmLoss, lmVariables, type LMConfig, type LMParams } from "../../ml/lm.ts";
import { type LoraParams, type LoraSettings, disposeLora, initLora, loraAdapter, loraTargets, loraVariables, mergeLora } from "../../ml/lora.ts";
import { makeRng } from "../../ml/prng.ts";
import { FAST_BACKEND } from "../../ml/fast/index.ts";
import { onBackend, setup, skipReason } from "../fast/helpers.ts";
import { perturbedLM, randomIds, relErr, toRef } from "./helpers.ts";
import { refForward, refLoss, type RefParams } from "./reference.ts";

await setup();
await tf.setBackend("cpu");
const gpt2 = PRESETS.tiny;
const llama: LMConfig = { ...PRESETS.tiny, norm: "rmsnorm", positions: "rope", mlp: "swiglu", mlpHidden: 24, nHeads: 4, nKVHeads: 2, qkvBias: false, projBias: false, mlpBias: false, tiedHead: false };

/** An adapter with non-zero B (and A moved too) so that every factor matters. */
const perturbedLora = (c: LMConfig, s: LoraSettings, seed: number): LoraParams => {
  const p = initLora(c, s, seed);
  const rng = makeRng(seed + 11);
  for (const v of Object.values(loraVariables(p)))
    tf.tidy(() => v.assign(tf.add(v, tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal() * 0.3), v.shape))));
  return p;
};

type Factors = Map<string, { at: number[][]; bt: number[][] }>; // Aᵀ (in, r), Bᵀ (r, out) by module
const factorsOf = (p: LoraParams): Factors => new Map(p.modules.map((m) => [m.module, { at: m.a.arraySync() as number[][], bt: m.b.arraySync() as number[][] }]));

/** Float64 W + scale·(BA)ᵀ with A (r, in) and B (out, r) in PEFT's layout, by lmVariables name. */
const merged64 = (base: RefParams, p: LoraParams, factors: Factors = factorsOf(p)): RefParams => {
  const out: RefParams = Object.fromEntries(Object.entries(base).map(([k, v]) => [k, { data: Float64Array.from(v.data), shape: v.shape }]));
  for (const m of p.modules) {
    const r = p.settings.rank;
    const { at, bt } = factors.get(m.module)!;
    const A = Array.from({ length: r }, (_, k) => at.map((row) => row[k])); // (r, in)
    const B = Array.from({ length: m.width }, (_, j) => bt.map((row) => row[j])); // (out, r)
    const w = out[`h${m.layer}.${m.site}`];
    const cols = w.shape[1];
    for (let j = 0; j < m.width; j++)
      for (let i = 0; i < m.inFeatures; i++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += B[j][k] * A[k][i];
        w.data[i * cols + m.col0 + j] += p.scale * s;
      }
  }
  return out;
};

const settings = (targetModules: LoraSettings["targetModules"], rank = 3, alpha = 6): LoraSettings => ({ rank, alpha, dropout: 0, targetModules });

test("target modules: PEFT names select the right columns of the fused weights", () => {
  const q = loraTargets(llama, ["q_proj"]);
  assert.deepEqual(q.map((m) => [m.module, m.site, m.col0, m.width]), [
    ["model.layers.0.self_attn.q_proj", "attnW", 0, 16], ["model.layers.1.self_attn.q_proj", "attnW", 0, 16]]);
  const kv = loraTargets(llama, ["k_proj", "v_proj", "up_proj"]).filter((m) => m.layer === 0);
  assert.deepEqual(kv.map((m) => [m.site, m.col0, m.width]), [["attnW", 16, 8], ["attnW", 24, 8], ["fcW", 24, 24]]);
  assert.deepEqual(loraTargets(gpt2, ["c_proj"]).map((m) => m.module),
    ["transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj", "transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_proj"]);
  assert.deepEqual(loraTargets(gpt2, ["mlp.c_proj"]).map((m) => m.site), ["fc2W", "fc2W"]);
  assert.equal(loraTargets(llama, "all-linear").length, 2 * 7);
  assert.deepEqual(loraTargets(llama, String.raw`.*\.1\.self_attn\.(q|v)_proj`).map((m) => m.module),
    ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"]);
  assert.throws(() => loraTargets(gpt2, ["q_proj"]), (e: unknown) => e instanceof ConfigError && e.field === "targetModules" && /c_attn/.test(e.message));
  assert.throws(() => initLora(gpt2, { ...settings(["c_attn"]), rank: 0 }, 1), (e: unknown) => e instanceof ConfigError && e.field === "rank");
});

for (const [name, c, targets] of [["gpt2", gpt2, ["c_attn", "c_proj", "c_fc"]], ["llama", llama, ["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"]]] as const) {
  test(`${name}: the merge equals W + (α/r)·(BA)ᵀ in float64 rounded once; untargeted columns are untouched`, () => {
    const p = perturbedLM(c, 1);
    const lora = perturbedLora(c, settings([...targets]), 2);
    const before = toRef(p);
    const want = merged64(before, lora);
    mergeLora(p, lora);
    for (const [k, v] of Object.entries(lmVariables(p))) {
      const got = v.dataSync();
      const w = want[k].data;
      let diff = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== Math.fround(w[i])) diff++;
      assert.equal(diff, 0, `${k}: ${diff} values differ from fround(float64 merge)`);
    }
    // Llama: q and v columns moved, k columns (no adapter) bit-identical
    if (name === "llama") {
      const w = p.blocks[0].attnW.arraySync() as number[][];
      const b0 = before["h0.attnW"];
      const cols = b0.shape[1];
      assert.ok(w.every((row, i) => row.slice(16, 24).every((x, j) => x === b0.data[i * cols + 16 + j])), "k columns unchanged");
      assert.ok(w.some((row, i) => row.slice(0, 16).some((x, j) => x !== Math.fround(b0.data[i * cols + j]))), "q columns changed");
    }
    disposeLora(lora);
    disposeParams(lmVariables(p));
  });

  test(`${name}: a fresh adapter changes nothing; the adapted forward equals the merged model`, () => {
    const p = perturbedLM(c, 3);
    const ids = tf.tensor2d(randomIds(2, 10, c.vocabSize, 4), undefined, "int32");
    const fresh = initLora(c, settings([...targets]), 5);
    const base = tf.tidy(() => lmForward(p, c, ids).logits.dataSync());
    const same = tf.tidy(() => lmForward(p, c, ids, { adapter: loraAdapter(fresh) }).logits.dataSync());
    assert.deepEqual(same, base, "B = 0: identical logits");
    const lora = perturbedLora(c, settings([...targets]), 6);
    const adapted = tf.tidy(() => lmForward(p, c, ids, { adapter: loraAdapter(lora) }).logits.dataSync());
    assert.ok(relErr(adapted, base) > 1e-2, "a non-zero B changes the logits");
    mergeLora(p, lora);
    const merged = tf.tidy(() => lmForward(p, c, ids).logits.dataSync());
    assert.ok(relErr(adapted, merged) < 1e-5, `adapted vs merged: ${relErr(adapted, merged)}`);
    tf.dispose(ids);
    disposeLora(fresh);
    disposeLora(lora);
    disposeParams(lmVariables(p));
  });
}

test("gpt2: adapted logits equal the float64 reference of the merged weights; dL/dA and dL/dB equal finite differences", () => {
  const c = gpt2;
  const p = perturbedLM(c, 7);
  const lora = perturbedLora(c, settings(["c_attn", "c_proj", "c_fc"], 2, 5), 8);
  const ids = randomIds(2, 9, c.vocabSize, 9);
  const mask = [[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 1, 1]];
  const base = toRef(p);
  const logits = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids, undefined, "int32"), { adapter: loraAdapter(lora) }).logits.arraySync());
  const ref = merged64(base, lora);
  for (let b = 0; b < ids.length; b++) {
    const err = relErr(logits[b].flat(), refForward(ref, c, ids[b]).flatMap((r) => [...r]));
    assert.ok(err < 1e-4, `row ${b}: ${err}`);
  }
  const vars = loraVariables(lora);
  const { value, grads } = tf.variableGrads(() => lmLoss(p, c, tf.tensor2d(ids, undefined, "int32"), tf.tensor2d(mask), { adapter: loraAdapter(lora) }), Object.values(vars));
  assert.equal(Object.keys(grads).length, Object.keys(vars).length, "a gradient for each factor and for nothing else");
  assert.ok(Math.abs(value.dataSync()[0] - refLoss(ref, c, ids, mask)) < 1e-5);
  const eps = 1e-5;
  let worst = 0;
  for (const m of lora.modules) {
    for (const [f, v] of [["a", m.a], ["b", m.b]] as const) {
      const g = grads[v.name].dataSync();
      const vals = v.dataSync();
      const scale = Math.max(...Array.from(g, Math.abs));
      for (const i of [0, Math.floor(v.size / 2), v.size - 1, g.indexOf(Math.max(...g))]) {
        // the loss as a function of this one factor entry, in float64
        const at = (x: number) => {
          const fs = factorsOf(lora);
          const mat = f === "a" ? fs.get(m.module)!.at : fs.get(m.module)!.bt;
          const cols = mat[0].length;
          mat[Math.floor(i / cols)][i % cols] = x;
          return refLoss(merged64(base, lora, fs), c, ids, mask);
        };
        const fd = (at(vals[i] + eps) - at(vals[i] - eps)) / (2 * eps);
        const e = Math.abs(g[i] - fd) / scale;
        worst = Math.max(worst, e);
        assert.ok(e < 1e-3, `${m.module}.${f}[${i}]: tfjs ${g[i]} vs finite difference ${fd}`);
      }
    }
  }
  console.log(`  LoRA gradients vs float64 finite differences: worst error ${worst.toExponential(2)} of the gradient scale`);
  tf.dispose([value, ...Object.values(grads)]);
  disposeLora(lora);
  disposeParams(lmVariables(p));
});

test("the fast path computes the adapted loss and the adapter's gradients as the cpu path (fused q|k|v and gate|up pieces)", skipReason() ? { skip: skipReason()! } : {}, async () => {
  const c = llama;
  const p = perturbedLM(c, 21);
  const lora = perturbedLora(c, settings(["q_proj", "v_proj", "up_proj", "o_proj"], 3, 5), 22);
  const ids = randomIds(2, 12, c.vocabSize, 23);
  const run = () => tf.tidy(() => {
    const vars = loraVariables(lora);
    const { value, grads } = tf.variableGrads(() => lmLoss(p, c, tf.tensor2d(ids, undefined, "int32"), undefined, { adapter: loraAdapter(lora) }), Object.values(vars));
    return { loss: value.dataSync()[0], grads: Object.values(vars).map((v) => grads[v.name].dataSync()) };
  });
  const cpu = run();
  const fast = await onBackend(FAST_BACKEND, run);
  assert.ok(Math.abs(fast.loss - cpu.loss) < 1e-5 * Math.abs(cpu.loss), `loss ${fast.loss} vs ${cpu.loss}`);
  const worst = Math.max(...cpu.grads.map((g, i) => relErr(fast.grads[i], g)));
  console.log(`  LoRA on the fast path vs cpu: loss ${Math.abs(fast.loss - cpu.loss).toExponential(2)} apart, gradients worst ${worst.toExponential(2)} relative`);
  assert.ok(worst < 1e-4, `gradients: worst relative error ${worst}`);
  disposeLora(lora);
  disposeParams(lmVariables(p));
});

const examples = (c: LMConfig, n: number, seed: number): EncodedExample[] => {
  const rng = makeRng(seed);
  // a learnable pattern: each row counts up from a random start
  return Array.from({ length: n }, () => {
    const s = Math.floor(rng.next() * c.vocabSize);
    return { ids: Array.from({ length: 12 }, (_, t) => (s + t) % c.vocabSize), targetFrom: 1, regularise: false };
  });
};

const snapshotValues = (p: LMParams) => Object.fromEntries(Object.entries(lmVariables(p)).map(([k, v]) => [k, Float32Array.from(v.dataSync())]));

test("LoRA SFT through finetuneLM on the Llama fixture: loss falls, only the adapter trains, bounded optimizer state", async () => {
  const { config: c, params: p } = await loadHfDirectory(join("test", "fixtures", "hf", "llama"));
  const data = examples(c, 16, 3);
  const before = snapshotValues(p);
  const lora = initLora(c, settings(["q_proj", "v_proj", "down_proj"], 4, 8), 4);
  const baseBytes = Object.values(lmVariables(p)).reduce((n, v) => n + 4 * v.size, 0);
  const startBytes = tf.memory().numBytes;
  let extra = 0;
  const history = await finetuneLM({
    params: p, config: c, data, pad: 0, seed: 1, lora,
    steps: 30, batchSize: 8, lr: 3e-2, warmup: 2, weightDecay: 0, clipNorm: 1,
    onProgress: () => { extra = Math.max(extra, tf.memory().numBytes - startBytes); },
  });
  const first = history[0].loss, last = history.at(-1)!.loss;
  console.log(`  LoRA SFT (Llama fixture, r 4): loss ${first.toFixed(3)} -> ${last.toFixed(3)}; memory held during training ${extra} B vs base ${baseBytes} B`);
  assert.ok(last < first - 0.5, `loss ${first} -> ${last}`);
  for (const [k, v] of Object.entries(lmVariables(p))) assert.deepEqual(v.dataSync(), before[k], `${k} changed`);
  assert.ok(lora.modules.every((m) => m.b.dataSync().some((x) => x !== 0)), "every B trained");
  // AdamW moments exist for the adapter only: far below one copy of the base weights
  assert.ok(extra < baseBytes / 4, `memory held during training ${extra} B`);
  // the merged model computes the adapted model's loss
  const ids = tf.tensor2d(data.slice(0, 4).map((e) => [...e.ids]), undefined, "int32");
  const adapted = tf.tidy(() => lmLoss(p, c, ids, undefined, { adapter: loraAdapter(lora) }).dataSync()[0]);
  mergeLora(p, lora);
  const merged = tf.tidy(() => lmLoss(p, c, ids).dataSync()[0]);
  assert.ok(Math.abs(adapted - merged) < 1e-5, `${adapted} vs ${merged}`);
  tf.dispose(ids);
  disposeLora(lora);
  disposeParams(lmVariables(p));
});

test("LoRA with the regulariser (λ > 0): only the adapter trains; full fine-tuning holds optimizer state for every weight", async () => {
  const c = gpt2;
  const data = examples(c, 8, 5).map((e, i) => ({ ...e, regularise: i % 2 === 0 }));
  const { initNado } = await import("../../ml/nado/model.ts");
  const snap = perturbedLM(c, 12);
  const nado = initNado({ body: c }, 13, -0.2);
  const guide = { snapshot: snap, snapshotCfg: c, nado, nadoCfg: { body: c }, alpha: 1 };
  const run = async (withLora: boolean) => {
    const p = perturbedLM(c, 12);
    const before = snapshotValues(p);
    const lora = withLora ? initLora(c, { ...settings("all-linear", 2, 4), dropout: 0.1 }, 3) : undefined;
    const start = tf.memory().numBytes;
    let extra = 0;
    const h = await finetuneLM({
      params: p, config: c, data, pad: 0, seed: 2, lora, regulariser: { guide, lambda: 0.5 },
      steps: 4, batchSize: 4, lr: 1e-2, warmup: 0, weightDecay: 0, clipNorm: 1,
      onProgress: () => { extra = Math.max(extra, tf.memory().numBytes - start); },
    });
    const changed = Object.entries(lmVariables(p)).filter(([k, v]) => v.dataSync().some((x, i) => x !== before[k][i])).length;
    if (lora) disposeLora(lora);
    disposeParams(lmVariables(p));
    return { changed, extra, loss: h.at(-1)!.loss, bytes: Object.values(before).reduce((n, v) => n + 4 * v.length, 0) };
  };
  const lora = await run(true);
  const full = await run(false);
  assert.ok(Number.isFinite(lora.loss));
  assert.equal(lora.changed, 0, "no base weight moved");
  assert.ok(full.changed > 0);
  assert.ok(full.extra >= 2 * full.bytes, `full fine-tuning keeps two moments per weight (${full.extra} B)`);
  assert.ok(lora.extra < full.bytes / 2, `LoRA keeps only the adapter's (${lora.extra} B vs ${full.bytes} B of weights)`);
  disposeParams(lmVariables(snap));
});

test("sampling through an unmerged adapter equals sampling from the merged model (KV cache, left padding)", () => {
  const c = llama;
  const p = perturbedLM(c, 31);
  const lora = perturbedLora(c, settings(["q_proj", "k_proj", "up_proj"], 2, 4), 32);
  const prompts = [[3, 9, 4], [7], [1, 2, 3, 4, 5]];
  const opts = { maxNewTokens: 6, temperature: 1, seed: 4 };
  const viaAdapter = generateIds(p, c, prompts, { ...opts, adapter: loraAdapter(lora) });
  const base = generateIds(p, c, prompts, opts);
  mergeLora(p, lora);
  assert.deepEqual(viaAdapter, generateIds(p, c, prompts, opts));
  assert.notDeepEqual(viaAdapter, base, "the adapter changes what is sampled");
  disposeLora(lora);
  disposeParams(lmVariables(p));
});

test("RL (RLOO) with LoRA: the adapter alone learns to avoid a token; the policy's weights serve as the KL reference", async () => {
  const c: LMConfig = { vocabSize: 8, contextLength: 12, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 2, dropout: 0 };
  const prompts = [[0], [0, 1], [0, 2], [0, 5, 6], [0, 7]];
  const p = perturbedLM(c, 1, 0.5); // weights large enough that the blocks can move the tied head's logits
  // X: the token the base model samples most, so that most samples start out failing
  const counts = new Array(c.vocabSize).fill(0);
  for (const comp of generateIds(p, c, Array.from({ length: 100 }, (_, i) => prompts[i % prompts.length]), { maxNewTokens: 6, temperature: 1, seed: 9 }))
    for (const t of comp) counts[t]++;
  const X = counts.indexOf(Math.max(...counts));
  const avoids = (comp: number[]) => (comp.includes(X) ? 0 : 1);
  const before = snapshotValues(p);
  const lora = initLora(c, settings("all-linear", 4, 8), 2);
  const hist = await trainRL({
    policy: p, reference: p, lora, config: c, prompts, reward: (cs) => cs.map(avoids),
    steps: 30, k: 4, promptsPerStep: 4, maxNewTokens: 6, klCoef: 0.01, optimizer: { lr: 5e-2 }, seed: 5,
  });
  for (const [k, v] of Object.entries(lmVariables(p))) assert.deepEqual(v.dataSync(), before[k], `${k} changed`);
  const first = hist.slice(0, 8).reduce((s, h) => s + h.reward, 0) / 8;
  const last = hist.slice(-8).reduce((s, h) => s + h.reward, 0) / 8;
  console.log(`  RL with LoRA: step reward ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  assert.ok(last > first + 0.2, `reward ${first} -> ${last}`);
  disposeLora(lora);
  disposeParams(lmVariables(p));
});
