import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { generateIds } from "../../ml/generate.ts";
import { scoreContinuations } from "../../ml/score.ts";
import { filteredProbs, sampleToken } from "../../ml/sampling.ts";
import { makeRng } from "../../ml/prng.ts";
import * as lm from "../../ml/lm.ts";
import { PRESETS, lmVariables, disposeParams } from "../../ml/lm.ts";
import { MASKED } from "../../ml/ops.ts";
import { refCrossEntropy, refForward } from "./reference.ts";
import { perturbedLM, randomIds, toRef } from "./helpers.ts";

await tf.setBackend("cpu");
const c = { ...PRESETS.tiny, contextLength: 24 };
// Large random weights give sharp distributions (greedy choices far from ties). LayerNorm biases are
// zeroed: random ones add a context-independent term to every logit and make outputs constant.
const p = perturbedLM(c, 31, 1.0);
tf.tidy(() => [p.lnfB, ...p.blocks.flatMap((b) => [b.ln1B, b.ln2B])].forEach((v) => v!.assign(tf.zerosLike(v!))));
const prompts = [[1, 2, 3, 4, 5], [7], [9, 8, 7, 6, 5, 4, 3, 2, 1], [4, 4]];

test("KV-cache generation equals uncached generation token for token (greedy, mixed prompt lengths)", () => {
  const cached = generateIds(p, c, prompts, { maxNewTokens: 12, temperature: 0 });
  const uncached = generateIds(p, c, prompts, { maxNewTokens: 12, temperature: 0, useCache: false });
  assert.deepEqual(cached, uncached);
  assert.ok(cached.every((r) => r.length === 12));
  assert.ok(new Set(cached.flat()).size > 3, "not a degenerate constant output");
});

test("left padding is invisible: each row generates what it generates alone", () => {
  const batched = generateIds(p, c, prompts, { maxNewTokens: 8, temperature: 0 });
  prompts.forEach((pr, i) => assert.deepEqual(generateIds(p, c, [pr], { maxNewTokens: 8, temperature: 0 })[0], batched[i], `prompt ${i}`));
});

test("greedy generation follows the float64 reference's argmax", () => {
  const [out] = generateIds(p, c, [prompts[0]], { maxNewTokens: 6, temperature: 0 });
  const ref = toRef(p);
  const seq = [...prompts[0]];
  for (const tok of out) {
    const logits = refForward(ref, c, seq);
    const last = logits[logits.length - 1];
    assert.equal(tok, last.indexOf(Math.max(...last)));
    seq.push(tok);
  }
});

test("seeded sampling is reproducible; top-k = 1 is greedy", () => {
  const o = { maxNewTokens: 10, temperature: 1, topP: 0.95 };
  const a = generateIds(p, c, prompts, { ...o, seed: 1 });
  assert.deepEqual(generateIds(p, c, prompts, { ...o, seed: 1 }), a);
  assert.notDeepEqual(generateIds(p, c, prompts, { ...o, seed: 2 }), a);
  assert.deepEqual(generateIds(p, c, prompts, { maxNewTokens: 10, temperature: 1.5, topK: 1, seed: 3 }), generateIds(p, c, prompts, { maxNewTokens: 10, temperature: 0 }));
});

test("top-k / top-p / temperature distributions, and sampling frequencies follow them", () => {
  const logits = [0.5, 0.3, 0.15, 0.05].map(Math.log);
  const close = (a: ArrayLike<number>, b: number[]) => b.every((x, i) => Math.abs(a[i] - x) < 1e-9);
  assert.ok(close(filteredProbs(logits, {}), [0.5, 0.3, 0.15, 0.05]));
  assert.ok(close(filteredProbs(logits, { topP: 0.7 }), [0.625, 0.375, 0, 0]));
  assert.ok(close(filteredProbs(logits, { topP: 0.79 }), [0.625, 0.375, 0, 0]));
  assert.ok(close(filteredProbs(logits, { topP: 0.81 }), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]));
  assert.ok(close(filteredProbs(logits, { topP: 0.1 }), [1, 0, 0, 0]));
  assert.ok(close(filteredProbs(logits, { topK: 3 }), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]));
  const t2 = [0.5, 0.3, 0.15, 0.05].map(Math.sqrt);
  const z = t2.reduce((a, b) => a + b);
  assert.ok(close(filteredProbs(logits, { temperature: 2 }), t2.map((x) => x / z)));
  const rng = makeRng(4);
  const counts = [0, 0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleToken(logits, { topK: 3 }, rng)]++;
  // binomial standard deviation <= sqrt(n/4) = 71; allow 4 sigma
  [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0].forEach((q, i) => assert.ok(Math.abs(counts[i] - q * n) < 4 * 71, `token ${i}: ${counts[i]}`));
});

test("stop tokens end a row; the logits processor hook steers sampling", () => {
  const STOP = 5;
  // ban STOP for two steps, then force it: every row yields exactly two tokens, none of them STOP
  const processor = (_ids: number[][], logits: tf.Tensor2D, step: number) => {
    const bias = tf.oneHot([STOP], c.vocabSize).mul(step < 2 ? -1e9 : 1e9) as tf.Tensor2D;
    return tf.add(logits, bias) as tf.Tensor2D;
  };
  const out = generateIds(p, c, prompts, { maxNewTokens: 10, temperature: 1, seed: 1, stopTokens: [STOP], logitsProcessor: processor });
  assert.deepEqual(out.map((r) => r.length), [2, 2, 2, 2]);
  assert.ok(out.flat().every((t) => t !== STOP));
  assert.throws(() => generateIds(p, c, [[]], { maxNewTokens: 2 }), /empty/);
  assert.throws(() => generateIds(p, c, [[1]], { maxNewTokens: c.contextLength }), /maxNewTokens/);
});

test("continuation log-probs equal the float64 reference; greedy match; batching does not change scores", () => {
  const ref = toRef(p);
  const reqs = [
    { context: [1, 2, 3], continuation: [4, 5] },
    { context: [9], continuation: [8, 7, 6, 5] },
    { context: randomIds(1, 30, c.vocabSize, 5)[0], continuation: [3] }, // truncated from the left
  ];
  const res = scoreContinuations(p, c, reqs, { batchSize: 16 });
  reqs.forEach((r, i) => {
    const seq = [...r.context, ...r.continuation].slice(res[i].truncated);
    const logits = refForward(ref, c, seq.slice(0, -1));
    const n = r.continuation.length;
    const want = r.continuation.reduce((a, tok, j) => a - refCrossEntropy(logits[seq.length - 1 - n + j], tok), 0);
    assert.ok(Math.abs(res[i].logprob - want) / Math.abs(want) < 1e-4, `request ${i}: ${res[i].logprob} vs ${want}`);
  });
  assert.equal(res[2].truncated, 30 + 1 - 1 - c.contextLength);
  const one = scoreContinuations(p, c, reqs, { batchSize: 1 });
  one.forEach((r, i) => assert.ok(Math.abs(r.logprob - res[i].logprob) < 1e-4));
  const greedy = generateIds(p, c, [[1, 2, 3]], { maxNewTokens: 3, temperature: 0 })[0];
  const [g, notG] = scoreContinuations(p, c, [{ context: [1, 2, 3], continuation: greedy }, { context: [1, 2, 3], continuation: [greedy[0], greedy[1], (greedy[2] + 1) % c.vocabSize] }]);
  assert.equal(g.greedyMatch, true);
  assert.equal(notG.greedyMatch, false);
});

test("no tensors leak from generation and scoring after burn-in", () => {
  const gen = () => generateIds(p, c, prompts, { maxNewTokens: 5, temperature: 1, topK: 10, seed: 1 });
  const score = () => scoreContinuations(p, c, [{ context: [1, 2], continuation: [3, 4] }, { context: [5], continuation: [6] }]);
  gen();
  score();
  const before = tf.memory().numTensors;
  gen();
  score();
  generateIds(p, c, prompts, { maxNewTokens: 3, temperature: 0, useCache: false });
  assert.equal(tf.memory().numTensors, before);
});

test.after(() => disposeParams(lmVariables(p)));

test("in-place KV slots give the concat cache's hidden states; writeKVSlot checks bounds", () => {
  const { embed, transformerBody, writeKVSlot, disposeKVCache } = lm;
  const before = tf.memory().numTensors;
  const [B, T0, cap] = [2, 3, 6];
  const ids0 = tf.tensor2d([[1, 2, 3], [4, 5, 6]], [B, T0], "int32");
  const next = tf.tensor2d([[7], [8]], [B, 1], "int32");
  const pos = tf.tensor2d([[T0], [T0]], [B, 1], "int32");
  const first = tf.tidy(() => transformerBody(p, c, embed(p, c, ids0), { useCache: true }).kvCache!);
  const want = tf.tidy(() => transformerBody(p, c, embed(p, c, next, { kvCache: first }), { kvCache: first }).hidden);
  const grow = (t: tf.Tensor4D) => { const s = tf.zeros([t.shape[0], t.shape[1], cap, t.shape[3]]) as tf.Tensor4D; writeKVSlot(s, t, 0); return s; };
  const slots = { k: first.k.map(grow), v: first.v.map(grow), at: T0 };
  // hide the unwritten slots [T0 + 1, cap)
  const bias = tf.tensor4d(Array.from({ length: B * cap }, (_, j) => (j % cap > T0 ? MASKED : 0)), [B, 1, 1, cap]);
  const got = tf.tidy(() => transformerBody(p, c, embed(p, c, next, { positions: pos }), { positions: pos, keyBias: bias, kvSlots: slots }).hidden);
  const [g, w] = [got.dataSync(), want.dataSync()];
  g.forEach((x, i) => assert.ok(Math.abs(x - w[i]) <= 1e-5 + 1e-4 * Math.abs(w[i]), `hidden[${i}] ${x} vs ${w[i]}`));
  // the new key went to slot T0 of every (b, h) row
  assert.ok(tf.tidy(() => slots.k[0].slice([0, 0, T0, 0], [B, -1, 1, -1]).abs().sum().dataSync()[0]) > 0);
  assert.throws(() => writeKVSlot(slots.k[0], first.k[0], cap - 1), RangeError);
  tf.dispose([ids0, next, pos, want, got, bias]);
  disposeKVCache(first);
  disposeKVCache(slots);
  assert.equal(tf.memory().numTensors, before);
});

test("unfiltered sampling draws exactly the token the filteredProbs scan gives", () => {
  const rng = makeRng(5);
  for (let r = 0; r < 200; r++) {
    const row = Float32Array.from({ length: 37 }, () => rng.normal() * 3);
    const t = [1, 0.7, 1.9][r % 3];
    const probs = filteredProbs(row, { temperature: t });
    const u = makeRng(1000 + r).next();
    let want = probs.length - 1;
    for (let i = 0, left = u; i < probs.length; i++) if ((left -= probs[i]) < 0) { want = i; break; }
    assert.equal(sampleToken(row, { temperature: t }, makeRng(1000 + r)), want, `row ${r}`);
  }
});
