import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { PRESETS, resolveConfig, disposeParams, initLM, lmForward, lmLoss, lmVariables, validateConfig, kvCacheLength, disposeKVCache } from "../../ml/lm.ts";
import { refForward, refLoss } from "./reference.ts";
import { perturbedLM, randomIds, relErr, toRef } from "./helpers.ts";

await tf.setBackend("cpu");
const c = PRESETS.tiny;

test("forward logits equal the float64 reference within 1e-4 relative", () => {
  const p = perturbedLM(c, 1);
  const ref = toRef(p);
  const ids = randomIds(2, c.contextLength, c.vocabSize, 2);
  const logits = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids, undefined, "int32")).logits.arraySync());
  for (let b = 0; b < ids.length; b++) {
    const want = refForward(ref, c, ids[b]);
    const err = relErr(logits[b].flat(), want.flatMap((r) => [...r]));
    assert.ok(err < 1e-4, `sequence ${b}: relative error ${err}`);
  }
  disposeParams(lmVariables(p));
});

test("masked loss equals the float64 reference within 1e-4 relative", () => {
  const p = perturbedLM(c, 3);
  const ref = toRef(p);
  const ids = randomIds(3, 9, c.vocabSize, 4);
  const mask = [[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 0], [0, 1, 0, 1, 0, 1, 0, 1]];
  const got = tf.tidy(() => lmLoss(p, c, tf.tensor2d(ids, undefined, "int32"), tf.tensor2d(mask)).dataSync()[0]);
  const want = refLoss(ref, c, ids, mask);
  assert.ok(Math.abs(got - want) / want < 1e-4, `loss ${got} vs reference ${want}`);
  // unmasked: the mean over all tokens
  const all = tf.tidy(() => lmLoss(p, c, tf.tensor2d(ids, undefined, "int32")).dataSync()[0]);
  assert.ok(Math.abs(all - refLoss(ref, c, ids)) / all < 1e-4);
  assert.notEqual(Math.abs(all - got) < 1e-6, true, "mask must change the loss");
  disposeParams(lmVariables(p));
});

test("gradients equal central finite differences of the float64 reference loss", () => {
  // float32 FD is too noisy at these magnitudes, so FD runs on the float64 reference (eps 1e-5:
  // truncation O(eps^2) ~1e-10, rounding ~1e-16/eps ~1e-11); the tfjs gradient is float32, whose
  // accumulated rounding is ~1e-6 relative. Tolerance: 1e-3 of the parameter's gradient scale.
  const p = perturbedLM(c, 5, 0.2);
  const ref = toRef(p);
  const ids = randomIds(2, 7, c.vocabSize, 6);
  const mask = [[1, 1, 1, 0, 1, 1], [0, 1, 1, 1, 1, 1]];
  const vars = lmVariables(p);
  const { grads } = tf.variableGrads(() => lmLoss(p, c, tf.tensor2d(ids, undefined, "int32"), tf.tensor2d(mask)), Object.values(vars));
  const eps = 1e-5;
  let checked = 0;
  for (const [name, v] of Object.entries(vars)) {
    const g = grads[v.name].dataSync();
    const scale = Math.max(...Array.from(g, Math.abs));
    // three coordinates per parameter, including the largest-gradient one
    const argmax = Array.from(g, Math.abs).indexOf(scale);
    for (const i of [0, Math.floor(v.size / 2), argmax]) {
      const x = ref[name].data[i];
      ref[name].data[i] = x + eps;
      const up = refLoss(ref, c, ids, mask);
      ref[name].data[i] = x - eps;
      const down = refLoss(ref, c, ids, mask);
      ref[name].data[i] = x;
      const fd = (up - down) / (2 * eps);
      assert.ok(Math.abs(g[i] - fd) <= 1e-3 * Math.max(scale, 1e-6), `${name}[${i}]: autodiff ${g[i]} vs FD ${fd} (scale ${scale})`);
      checked++;
    }
  }
  assert.ok(checked >= 3 * 28);
  tf.dispose(grads);
  disposeParams(vars);
});

test("KV-cache forward equals the full forward position by position", () => {
  const p = perturbedLM(c, 8);
  const ids = randomIds(2, 10, c.vocabSize, 9);
  const before = tf.memory().numTensors;
  const full = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids, undefined, "int32")).logits.arraySync());
  // prefill 4 tokens, then feed one at a time
  let out = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids.map((r) => r.slice(0, 4)), undefined, "int32"), { useCache: true }));
  let cache = out.kvCache;
  const pre = out.logits.arraySync();
  for (let b = 0; b < 2; b++) for (let t = 0; t < 4; t++) assert.ok(relErr(pre[b][t], full[b][t]) < 1e-5, `prefill t=${t}`);
  tf.dispose([out.logits, out.hidden]);
  for (let t = 4; t < 10; t++) {
    out = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids.map((r) => [r[t]]), undefined, "int32"), { kvCache: cache }));
    assert.equal(kvCacheLength(out.kvCache), t + 1);
    const l = out.logits.arraySync();
    for (let b = 0; b < 2; b++) assert.ok(relErr(l[b][0], full[b][t]) < 1e-5, `t=${t} b=${b}`);
    disposeKVCache(cache);
    tf.dispose([out.logits, out.hidden]);
    cache = out.kvCache;
  }
  disposeKVCache(cache);
  assert.equal(tf.memory().numTensors, before, "no tensors leaked by cached decoding");
  disposeParams(lmVariables(p));
});

test("initLM is deterministic in the seed and the config is validated", () => {
  const a = initLM(c, 42);
  const b = initLM(c, 42);
  const d = initLM(c, 43);
  assert.deepEqual(a.wte.dataSync(), b.wte.dataSync());
  assert.notDeepEqual(a.wte.dataSync(), d.wte.dataSync());
  assert.deepEqual(a.blocks[1].fcW.dataSync(), b.blocks[1].fcW.dataSync());
  for (const p of [a, b, d]) disposeParams(lmVariables(p));
  assert.throws(() => validateConfig({ ...c, nHeads: 3 }), /divisible by nHeads/);
  assert.throws(() => validateConfig({ ...c, dropout: 1 }), /dropout/);
  assert.throws(() => validateConfig({ ...c, bogus: 1 }), /bogus/);
  assert.deepEqual(resolveConfig("reference", { vocabSize: 300 }), { ...PRESETS.reference, vocabSize: 300 });
  assert.throws(() => resolveConfig("huge"), /known presets: tiny, reference, small, base/);
  assert.throws(() => resolveConfig("tiny", { dmodel: 8 }), /unknown LM config key\(s\) dmodel; known keys: vocabSize/);
});
