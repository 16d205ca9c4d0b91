// The architecture switches of ml/lm.ts beyond the golden fixtures (test/ml/hf.test.ts): the new
// ops against float64 loops, the switches composing in combinations no HF family has, odd shapes,
// the fast path against the stock cpu path (forward and gradients), KV-cache decoding (concat and
// in-place slots) against the full forward, checkpoints, and config validation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  type LMConfig, PRESETS, archOf, disposeKVCache, disposeParams, initLM, lmForward, lmLoss, lmShapes, lmVariables, validateConfig,
} from "../../ml/lm.ts";
import { referenceOps } from "../../ml/ops.ts";
import { generateIds } from "../../ml/generate.ts";
import { loadLM, saveLM } from "../../ml/checkpoint.ts";
import { FAST_BACKEND } from "../../ml/fast/index.ts";
import { onBackend, randn, setup, skipReason } from "../fast/helpers.ts";
import { perturbedLM, randomIds, relErr } from "./helpers.ts";

const fastSkip = skipReason();
await setup();

/** Odd shapes: head size 4, 6 query heads on 2 KV heads, MLP width 40, vocab 37. */
const LLAMA: LMConfig = {
  vocabSize: 37, contextLength: 20, dModel: 24, nHeads: 6, nLayers: 2, mlpRatio: 40 / 24, mlpHidden: 40, dropout: 0,
  norm: "rmsnorm", normEps: 1e-6, positions: "rope", ropeTheta: 300, mlp: "swiglu", nKVHeads: 2,
  qkvBias: true, projBias: false, mlpBias: false, tiedHead: false,
};
/** Switches mixed as no HF family does: RMSNorm with learned positions and GELU, GQA, no biases at all, tied. */
const MIXED: LMConfig = {
  vocabSize: 29, contextLength: 18, dModel: 20, nHeads: 5, nLayers: 2, mlpRatio: 3, dropout: 0,
  norm: "rmsnorm", positions: "learned", mlp: "gelu", nKVHeads: 1, qkvBias: false, projBias: false, mlpBias: false,
};
/** LayerNorm + RoPE + SwiGLU with all biases and an untied head. */
const MIXED2: LMConfig = {
  vocabSize: 31, contextLength: 18, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 2, dropout: 0,
  positions: "rope", mlp: "swiglu", tiedHead: false,
};
const CONFIGS = { llama: LLAMA, mixed: MIXED, mixed2: MIXED2 };

test("rmsNorm, swiglu and rope equal float64 loops", () => {
  const x = randn([2, 3, 5, 6], 1);
  const g = randn([6], 2);
  const [B, n, T, hs] = x.shape;
  const cos = randn([B, 1, T, hs / 2], 3), sin = randn([B, 1, T, hs / 2], 4);
  const xs = tf.tensor(x.values, x.shape);
  const rms = referenceOps.rmsNorm(xs, tf.tensor1d(g.values as Float32Array), 1e-5).dataSync();
  const up = randn(x.shape, 5);
  const silu = referenceOps.swiglu(xs, tf.tensor(up.values, up.shape)).dataSync();
  const rope = referenceOps.rope(xs as tf.Tensor4D, tf.tensor4d(cos.values, [B, 1, T, hs / 2]), tf.tensor4d(sin.values, [B, 1, T, hs / 2])).dataSync();
  const wantRms: number[] = [], wantSilu: number[] = [], wantRope: number[] = [];
  for (let r = 0; r < B * n * T; r++) {
    const row = Array.from(x.values.subarray(r * hs, (r + 1) * hs));
    const ms = row.reduce((a, v) => a + v * v, 0) / hs;
    row.forEach((v, i) => wantRms.push((v / Math.sqrt(ms + 1e-5)) * g.values[i]));
    row.forEach((v, i) => wantSilu.push((v / (1 + Math.exp(-v))) * up.values[r * hs + i]));
    const b = Math.floor(r / (n * T)), t = r % T;
    const c = (i: number) => cos.values[(b * T + t) * (hs / 2) + i], s = (i: number) => sin.values[(b * T + t) * (hs / 2) + i];
    const half = hs / 2;
    for (let i = 0; i < half; i++) wantRope.push(row[i] * c(i) - row[i + half] * s(i));
    for (let i = 0; i < half; i++) wantRope.push(row[i + half] * c(i) + row[i] * s(i));
  }
  assert.ok(relErr(rms, wantRms) < 1e-6, "rmsNorm");
  assert.ok(relErr(silu, wantSilu) < 1e-6, "swiglu");
  assert.ok(relErr(rope, wantRope) < 1e-6, "rope");
});

test("lmShapes lists exactly the parameters initLM makes, per configuration", () => {
  for (const c of [PRESETS.tiny, LLAMA, MIXED, MIXED2]) {
    const p = initLM(c, 1);
    const vars = lmVariables(p);
    assert.deepEqual(Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.shape])), lmShapes(c));
    disposeParams(vars);
  }
  // acft's own configuration keeps its parameter list (checkpoints stay readable)
  assert.deepEqual(Object.keys(lmShapes(PRESETS.tiny)), [
    "wte", "wpe", ...[0, 1].flatMap((l) => ["ln1G", "ln1B", "attnW", "attnB", "projW", "projB", "ln2G", "ln2B", "fcW", "fcB", "fc2W", "fc2B"].map((k) => `h${l}.${k}`)),
    "lnfG", "lnfB",
  ]);
  const s = lmShapes(LLAMA);
  assert.deepEqual(s["h0.attnW"], [24, (6 + 2 * 2) * 4]);
  assert.deepEqual(s["h0.attnB"], [40]);
  assert.deepEqual(s["h0.fcW"], [24, 80]);
  assert.equal(s.wpe, undefined);
  assert.equal(s["h0.projB"], undefined);
  assert.deepEqual(s.wout, [37, 24]);
});

for (const [name, c] of Object.entries(CONFIGS)) {
  test(`${name}: the fast path equals the stock cpu path (logits, masked loss, every gradient)`, fastSkip ? { skip: fastSkip } : {}, async () => {
    const p = perturbedLM(c, 5, 0.3);
    const vars = lmVariables(p);
    const ids = randomIds(3, 8, c.vocabSize, 6);
    const mask = [[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]];
    const run = () => {
      const logits = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids.map((r) => r.slice(0, 7)), undefined, "int32")).logits.dataSync());
      const { value, grads } = tf.variableGrads(() => lmLoss(p, c, tf.tensor2d(ids, undefined, "int32"), tf.tensor2d(mask)), Object.values(vars));
      const out = { logits, loss: value.dataSync()[0], grads: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, grads[v.name].dataSync()])) };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const cpu = await onBackend("cpu", run);
    const fast = await onBackend(FAST_BACKEND, run);
    assert.ok(relErr(fast.logits, cpu.logits) < 1e-5, `logits ${relErr(fast.logits, cpu.logits)}`);
    assert.ok(Math.abs(fast.loss - cpu.loss) < 1e-5 * cpu.loss);
    for (const k of Object.keys(vars)) assert.ok(relErr(fast.grads[k], cpu.grads[k]) < 1e-4, `gradient of ${k}: ${relErr(fast.grads[k], cpu.grads[k])}`);
    disposeParams(vars);
  });

  for (const backend of ["cpu", FAST_BACKEND]) {
    const skip = backend === FAST_BACKEND ? fastSkip : null;
    test(`${name} on ${backend}: KV-cache forward and decoding (concat and in-place slots) equal the full forward`, skip ? { skip } : {}, () => onBackend(backend, () => {
      const p = perturbedLM(c, 11, 0.5);
      const ids = randomIds(2, 9, c.vocabSize, 12);
      const full = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids, undefined, "int32")).logits.arraySync());
      // prefix of 4, then one token at a time through the growing cache (positions from its length)
      let cache = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids.map((r) => r.slice(0, 4)), undefined, "int32"), { useCache: true }).kvCache!);
      assert.equal(cache.k[0].shape[1], archOf(c).nKV, "the cache holds the KV heads, not the repeated query heads");
      for (let t = 4; t < 9; t++) {
        const step = tf.tidy(() => {
          const r = lmForward(p, c, tf.tensor2d(ids.map((row) => [row[t]]), undefined, "int32"), { kvCache: cache });
          return { logits: r.logits.arraySync(), kvCache: r.kvCache! };
        });
        disposeKVCache(cache);
        cache = step.kvCache;
        ids.forEach((_, b) => assert.ok(relErr(step.logits[b][0], full[b][t]) < 1e-5, `row ${b} position ${t}`));
      }
      disposeKVCache(cache);
      const prompts = [[1, 2, 3, 4, 5], [7], [9, 8, 7, 6, 5, 4, 3, 2, 1]];
      const cached = generateIds(p, c, prompts, { maxNewTokens: 6, temperature: 0 });
      const uncached = generateIds(p, c, prompts, { maxNewTokens: 6, temperature: 0, useCache: false });
      assert.deepEqual(cached, uncached);
      // a left-padded row computes what it computes alone
      prompts.forEach((pr, i) => assert.deepEqual(generateIds(p, c, [pr], { maxNewTokens: 6, temperature: 0 })[0], cached[i], `prompt ${i} alone`));
      disposeParams(lmVariables(p));
    }));
  }
}

test("checkpoints save and load every configuration", async () => {
  const dir = mkdtempSync(join(tmpdir(), "acft-arch-"));
  try {
    for (const c of [LLAMA, MIXED, MIXED2]) {
      const p = perturbedLM(c, 3);
      await saveLM(dir, p, c);
      const q = await loadLM(dir);
      assert.deepEqual(q.config, c);
      const a = lmVariables(p), b = lmVariables(q.params);
      assert.deepEqual(Object.keys(b), Object.keys(a));
      for (const k of Object.keys(a)) assert.deepEqual(b[k].dataSync(), a[k].dataSync(), k);
      disposeParams(a);
      disposeParams(b);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("config validation names the field of a bad switch", () => {
  assert.throws(() => validateConfig({ ...LLAMA, nKVHeads: 4 }), /LMConfig.nKVHeads must divide nHeads \(6\), got 4/);
  assert.throws(() => validateConfig({ ...LLAMA, dModel: 18, nHeads: 6, nKVHeads: 6 }), /"rope" needs an even head size, got 3/);
  assert.throws(() => validateConfig({ ...LLAMA, norm: "batchnorm" }), /norm/);
  assert.throws(() => validateConfig({ ...LLAMA, mlpHidden: 0 }), /mlpHidden must be > 0/);
  assert.throws(() => validateConfig({ ...LLAMA, ropeTheta: -1 }), /ropeTheta must be > 0/);
  // mlpHidden overrides mlpRatio, which then need not give an integer width
  assert.equal(archOf(validateConfig({ ...PRESETS.tiny, mlpRatio: 2.7, mlpHidden: 40 })).hidden, 40);
  assert.throws(() => validateConfig({ ...PRESETS.tiny, mlpRatio: 2.7 }), /mlpRatio/);
});
