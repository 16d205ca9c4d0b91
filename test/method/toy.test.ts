// The method on exact toys (issue 4's proofs): trained NADO vs exact R, guided sampling vs q*,
// importance weighting, regularised fine-tuning, and runMethodCheck. Tolerances are stated next
// to each assertion with the value measured when they were set (V = 5, L = 5, seed 1, wasm).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { makeRng } from "../../ml/prng.ts";
import { chainToTable, empiricalJoint, randomChain, sampleTable, totalVariation } from "../../ml/toy/chain.ts";
import { constrainedJoint, evenCount, exactNextR, neverToken, oracle } from "../../ml/toy/exact.ts";
import { consistencyError, finetuneToy, nadoMAE, sampleAndLabelToy, trainToyNado } from "../../ml/toy/method.ts";
import { disposeToyNado, initToyNado, toyLMFromChain, toyNadoNextR } from "../../ml/toy/models.ts";
import { guidedTableTf, runMethodCheck } from "../../ml/toy/check.ts";

await initBackend("wasm");
const V = 5, L = 5;
const baseChain = randomChain(V, L, makeRng(1));
const base = chainToTable(baseChain);
const nado = { steps: 150, lr: 0.1, beta: 0.5 };

/** Expected TV of an n-sample empirical distribution from p itself (normal approximation). */
const tvNoiseFloor = (p: ArrayLike<number>, n: number): number => {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += Math.sqrt((2 * p[i] * (1 - p[i])) / (Math.PI * n));
  return s / 2;
};

for (const c of [neverToken(0), evenCount(1)])
  test(`trained NADO (${c.name}): MAE to exact R < 0.03 and consistency error < 0.01`, async () => {
    const data = sampleAndLabelToy(base, c, 50_000, makeRng(2));
    const m = await trainToyNado(base, data, nado);
    const rPhi = toyNadoNextR(m);
    const mae = nadoMAE(base, rPhi, exactNextR(base, c));
    const cons = consistencyError(base, rPhi);
    disposeToyNado(m);
    // measured: never(0) mae 0.0070 cons 0.0032. The floor is sampling noise of a table model
    // (one free logit per prefix), ~ Σ_h p(h)·sqrt(R(1−R)/(n·p(h))).
    assert.ok(mae < 0.03, `nado MAE ${mae}`);
    assert.ok(cons < 0.01, `consistency error ${cons}`);
    // It learned something: the initial (constant) model is far worse.
    const init = initToyNado(base.space, 0);
    assert.ok(nadoMAE(base, toyNadoNextR(init), exactNextR(base, c)) > 5 * mae);
    disposeToyNado(init);
  });

test("importance weights: NADO on T = 1.6 samples with p/q weights recovers R (MAE < 0.03, close to the T = 1 model); without weights it is biased", async () => {
  const c = neverToken(0);
  const R = exactNextR(base, c);
  const fit = async (T: number, weighted: boolean) => {
    const m = await trainToyNado(base, sampleAndLabelToy(base, c, 50_000, makeRng(3), T, weighted), nado);
    const r = toyNadoNextR(m);
    disposeToyNado(m);
    return r;
  };
  const r1 = await fit(1, true);
  const rw = await fit(1.6, true);
  const ru = await fit(1.6, false);
  const maeW = nadoMAE(base, rw, R);
  const maeU = nadoMAE(base, ru, R);
  const gap = nadoMAE(base, rw, r1);
  // measured: weighted 0.0062, unweighted 0.0168. I first expected the unweighted bias to be far
  // larger; it is modest because tempering at T = 1.6 shifts Pr[C | h] only by what the flatter
  // continuation distribution adds of the banned token, and a 2.7× gap is what this toy shows.
  // The assertion keeps a margin (2×) while still failing if the weights were ignored.
  assert.ok(maeW < 0.03, `weighted MAE ${maeW}`);
  assert.ok(gap < 0.03, `weighted vs T=1 ${gap}`);
  assert.ok(maeU > 2 * maeW, `unweighted MAE ${maeU} should be clearly worse than weighted ${maeW}`);
});

test("guided sampling with exact R: all 20k samples satisfy the hard constraint, TV to q* within 1.25× the sampling-noise floor", () => {
  const c = neverToken(0);
  const exact = initToyNado(base.space, 0);
  // z = logit(R) with R = 0 -> −∞: q gives the banned continuations probability exactly 0.
  exact.table.assign(tf.tensor2d(Float32Array.from(exactNextR(base, c), (r) => Math.log(r / (1 - r))), [base.space.nPrefixes, V]));
  const q = guidedTableTf(base, exact);
  disposeToyNado(exact);
  const n = 20_000;
  const drawn = sampleTable(q, n, makeRng(4)).tokens;
  for (let i = 0; i < n; i++) assert.equal(oracle(c, drawn, i * L, L), 1, `sample ${i} violates ${c.name}`);
  const qStar = constrainedJoint(base, c);
  const tv = totalVariation(empiricalJoint(base.space, drawn), qStar);
  const floor = tvNoiseFloor(qStar, n);
  // measured: tv ≈ floor (≈ 0.09 for 1024 outcomes at n = 20k): the sampler adds nothing on top.
  assert.ok(tv < 1.25 * floor, `TV ${tv} vs noise floor ${floor}`);
});

test("regularised fine-tuning raises satisfaction well above plain fine-tuning at a bounded LM-loss cost; λ = 0 runs are identical", async () => {
  const r = await runMethodCheck({ seed: 1 });
  // measured (seed 1): sat 0.42 -> 0.69, lm loss 1.489 -> 1.698 nats/token (1 iteration, λ = 4).
  assert.ok(r.sat_regularised > r.sat_plain + 0.2, `sat ${r.sat_plain} -> ${r.sat_regularised}`);
  assert.ok(r.lm_loss_regularised - r.lm_loss_plain < 0.3, `lm loss ${r.lm_loss_plain} -> ${r.lm_loss_regularised}`);
  assert.ok(r.nado_mae < 0.03 && r.consistency_err < 0.01, JSON.stringify(r));
  assert.ok(r.kl_abs_err < 1e-6, `kl_abs_err ${r.kl_abs_err}`);
  assert.ok(r.q_tv < 0.1, `q_tv ${r.q_tv}`); // noise floor at 50k samples ≈ 0.05 plus the NADO's error
  // λ = 0 through the regularised path equals plain fine-tuning bit for bit.
  const data = sampleTable(chainToTable(randomChain(V, L, makeRng(9))), 500, makeRng(10)).tokens;
  const a = toyLMFromChain(baseChain), b = toyLMFromChain(baseChain);
  const q = tf.zeros([500 * L, V]) as tf.Tensor2D;
  await finetuneToy(a, data, { steps: 20, lr: 0.1, lambda: 0 });
  await finetuneToy(b, data, { steps: 20, lr: 0.1, lambda: 0, qLogProbs: q });
  assert.deepEqual(Array.from(a.logits.dataSync()), Array.from(b.logits.dataSync()));
  tf.dispose([a.logits, b.logits, q]);
});

test("runMethodCheck leaves no tensors behind", async () => {
  const before = tf.memory().numTensors;
  await runMethodCheck({ nadoSamples: 2000, nadoSteps: 3, ftSteps: 3, qSamples: 100, ftSamples: 100, iterations: 2 });
  assert.equal(tf.memory().numTensors, before);
});

test("runMethodCheck rejects options it cannot enumerate with a ConfigError naming the field", async () => {
  await assert.rejects(runMethodCheck({ V: 8, L: 7 }), (e: { _tag: string; field: string; message: string }) => e._tag === "ConfigError" && e.field === "L" && /V\^L/.test(e.message));
  await assert.rejects(runMethodCheck({ lambda: -1 }), (e: { _tag: string; field: string }) => e._tag === "ConfigError" && e.field === "lambda");
});
