// The NADO transformer of ml/nadoModel.ts: at initialisation q = p exactly (zero head weights, one
// bias); guided scoring equals an explicit per-row computation of log q = log softmax(log p + α log σ(z));
// the generation hook's right-padded batch equals per-row forwards; save → load keeps z; no leaks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { PRESETS, type LMConfig } from "../../ml/lm.ts";
import { guidedLogitsProcessor, guidedTokenLogProbs, initNado, loadNado, nadoForward, nadoVariables, saveNado, trainNado, disposeNado } from "../../ml/nadoModel.ts";
import { scoreContinuations } from "../../ml/score.ts";
import { perturbedLM, randomIds } from "./helpers.ts";
import { makeRng } from "../../ml/prng.ts";

const c: LMConfig = { ...PRESETS.tiny };
const perturb = (vars: Record<string, tf.Variable>, seed: number, std = 0.3) => {
  const rng = makeRng(seed);
  for (const v of Object.values(vars)) tf.tidy(() => v.assign(tf.add(v, tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal() * std), v.shape))));
};

test("at initialisation R is constant, so q = p (guided log-probs equal the base's)", () => {
  const base = { params: perturbedLM(c, 1), config: c };
  const nado = initNado(c, 2, 0.7);
  const seqs = randomIds(3, 9, c.vocabSize, 3);
  const q = guidedTokenLogProbs(base, nado, 1, seqs);
  const p = scoreContinuations(base.params, c, seqs.map((s) => ({ context: [s[0]], continuation: s.slice(1) })));
  for (let i = 0; i < seqs.length; i++) for (let t = 0; t < 8; t++) assert.ok(Math.abs(q[i].lp[t] - p[i].tokenLogprobs[t]) < 1e-4, `row ${i} pos ${t}`);
  disposeNado(nado);
});

test("guided log-probs = log softmax(log p + α log σ(z)) computed row by row in float64", () => {
  const base = { params: perturbedLM(c, 4), config: c };
  const nado = initNado(c, 5, -0.3);
  perturb(nadoVariables(nado), 6);
  const alpha = 1.7;
  const seqs = [randomIds(1, 7, c.vocabSize, 7)[0], randomIds(1, 4, c.vocabSize, 8)[0]]; // different lengths: padding
  const got = guidedTokenLogProbs(base, nado, alpha, seqs);
  seqs.forEach((s, i) => {
    const ids = tf.tensor2d([s.slice(0, -1)], undefined, "int32");
    const logits = tf.tidy(() => tf.logSoftmax(scoreLogits(base, ids)).arraySync() as number[][][]);
    const z = tf.tidy(() => nadoForward(nado, ids).arraySync() as number[][][]);
    ids.dispose();
    for (let t = 0; t < s.length - 1; t++) {
      const u = logits[0][t].map((lp, v) => lp + alpha * -Math.log1p(Math.exp(-z[0][t][v])));
      const m = Math.max(...u);
      const lse = m + Math.log(u.reduce((a, x) => a + Math.exp(x - m), 0));
      assert.ok(Math.abs(got[i].lp[t] - (u[s[t + 1]] - lse)) < 1e-4, `row ${i} pos ${t}: ${got[i].lp[t]} vs ${u[s[t + 1]] - lse}`);
    }
  });
  disposeNado(nado);
});

import { lmForward } from "../../ml/lm.ts";
const scoreLogits = (base: { params: ReturnType<typeof perturbedLM>; config: LMConfig }, ids: tf.Tensor2D) => lmForward(base.params, base.config, ids).logits;

test("the generation hook's right-padded batch equals one forward per row", () => {
  const nado = initNado(c, 9, 0.2);
  perturb(nadoVariables(nado), 10);
  const rows = [randomIds(1, 6, c.vocabSize, 11)[0], randomIds(1, 3, c.vocabSize, 12)[0]];
  const logits = tf.tensor2d(randomIds(2, c.vocabSize, 5, 13).map((r) => r.map((x) => x / 5 - 0.5)));
  const batched = tf.tidy(() => guidedLogitsProcessor(nado, 1, 0)(rows, logits).arraySync());
  rows.forEach((r, b) => {
    const one = tf.tidy(() => guidedLogitsProcessor(nado, 1, 0)([r], logits.slice([b, 0], [1, -1]) as tf.Tensor2D).arraySync()[0]);
    for (let v = 0; v < c.vocabSize; v++) assert.ok(Math.abs(batched[b][v] - one[v]) < 1e-5);
  });
  logits.dispose();
  disposeNado(nado);
});

test("save → load keeps z exactly; a training step leaks no tensor; training lowers the loss", async () => {
  const dir = mkdtempSync(join(tmpdir(), "acft-nado-"));
  try {
    const base = { params: perturbedLM(c, 14), config: c };
    const nado = initNado(c, 15, 0);
    perturb(nadoVariables(nado), 16, 0.1);
    await saveNado(dir, nado);
    const back = await loadNado(dir);
    const ids = tf.tensor2d(randomIds(2, 5, c.vocabSize, 17), undefined, "int32");
    const [a, b] = tf.tidy(() => [nadoForward(nado, ids).dataSync(), nadoForward(back, ids).dataSync()]);
    assert.deepEqual(Array.from(a), Array.from(b));
    ids.dispose();
    disposeNado(back);
    // Samples whose label is 1 exactly when the continuation starts with token 3: R must learn it.
    const rng = makeRng(18);
    const samples = Array.from({ length: 64 }, () => {
      const cont = [Math.floor(rng.next() * 6), Math.floor(rng.next() * 6)];
      return { prompt: [1, 2], continuation: cont, label: cont[0] === 3 ? 1 : 0 };
    });
    const losses: number[] = [];
    const opts = { steps: 1, batchSize: 16, lr: 3e-2, warmup: 0, weightDecay: 0, clipNorm: 1, beta: 0.5, temperature: 1, seed: 1 };
    await trainNado(nado, base, samples, 0, opts); // burn-in
    const before = tf.memory().numTensors;
    await trainNado(nado, base, samples, 0, { ...opts, steps: 40, onProgress: (p) => losses.push(p.loss) });
    assert.equal(tf.memory().numTensors, before, "no tensor leaked by training");
    assert.ok(losses.slice(-5).reduce((x, y) => x + y) < losses.slice(0, 5).reduce((x, y) => x + y), `loss fell: ${losses[0]} → ${losses[losses.length - 1]}`);
    const r = tf.tidy(() => tf.sigmoid(nadoForward(nado, tf.tensor2d([[1, 2]], undefined, "int32"))).arraySync() as number[][][]);
    assert.ok(r[0][1][3] > 0.6 && r[0][1][4] < 0.4, `R(h ⊕ 3) = ${r[0][1][3].toFixed(3)}, R(h ⊕ 4) = ${r[0][1][4].toFixed(3)}`);
    disposeNado(nado);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
