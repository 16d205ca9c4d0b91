import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { train, type TrainState } from "../../ml/train.ts";
import { lrAt } from "../../ml/adamw.ts";
import { PRESETS, disposeParams, initLM, lmLoss, lmVariables, type LMConfig } from "../../ml/lm.ts";
import { randomIds } from "./helpers.ts";

await tf.setBackend("cpu");

test("AdamW with decoupled weight decay, warmup+cosine and clipping equals a float64 hand computation", async () => {
  // loss = 0.5 * sum(a * w^2) has gradient a * w.
  const a = [1, -2, 3, 0.5];
  const w0 = [0.5, -1, 2, 3];
  const w = tf.variable(tf.tensor2d([w0]), true, "w_adamw_test"); // rank 2 -> decayed
  const b = tf.variable(tf.tensor1d([1]), true, "b_adamw_test"); // rank 1 -> not decayed; loss b^2
  const cfg = { lr: 0.1, betas: [0.9, 0.95] as const, weightDecay: 0.1, eps: 1e-8 };
  const schedule = { warmup: 2, decay: "cosine" as const, minLrRatio: 0.1 };
  const steps = 5;
  const clip = 3;
  const hist = await train({
    variables: { w, b }, steps, optimizer: cfg, schedule, clipNorm: clip, batches: () => null,
    loss: () => tf.add(tf.mul(0.5, tf.sum(tf.mul(tf.tensor2d([a]), tf.square(w)))), tf.sum(tf.square(b))) as tf.Scalar,
  });
  // float64 reference
  const p = [...w0, 1];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  for (let t = 1; t <= steps; t++) {
    let g = p.map((x, i) => (i < 4 ? a[i] * x : 2 * x));
    const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(hist[t - 1].gradNorm - norm) / norm < 1e-5, `norm at step ${t - 1}`);
    if (norm > clip) g = g.map((x) => (x * clip) / (norm + 1e-6));
    const lr = lrAt(t - 1, steps, cfg.lr, schedule);
    for (let i = 0; i < p.length; i++) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
      const upd = m[i] / (1 - 0.9 ** t) / (Math.sqrt(v[i] / (1 - 0.95 ** t)) + 1e-8) + (i < 4 ? 0.1 * p[i] : 0);
      p[i] -= lr * upd;
    }
  }
  const got = [...w.dataSync(), ...b.dataSync()];
  got.forEach((x, i) => assert.ok(Math.abs(x - p[i]) < 1e-5, `param ${i}: ${x} vs ${p[i]}`));
  // the schedule: warmup 0.05, 0.1, then cosine from 0.1 down towards 0.01
  assert.deepEqual([lrAt(0, 5, 0.1, schedule), lrAt(1, 5, 0.1, schedule)], [0.05, 0.1]);
  assert.ok(Math.abs(lrAt(5, 5, 0.1, schedule) - 0.01) < 1e-12);
  tf.dispose([w, b]);
});

const c: LMConfig = { ...PRESETS.tiny, dropout: 0.1 };
const data = randomIds(8, 9, c.vocabSize, 21);
const lmRun = (vars: ReturnType<typeof lmVariables>, p: ReturnType<typeof initLM>) => ({
  variables: vars,
  steps: 6,
  optimizer: { lr: 3e-3, weightDecay: 0.01 },
  schedule: { warmup: 2 },
  clipNorm: 1,
  accumulate: 2,
  seed: 5,
  batches: (step: number, micro: number) => data.slice(((step * 2 + micro) * 2) % 8, ((step * 2 + micro) * 2) % 8 + 2),
  loss: (batch: number[][], ctx: { seed: number }) =>
    lmLoss(p, c, tf.tensor2d(batch, undefined, "int32"), undefined, { training: true, seed: ctx.seed }),
});

test("a fixed seed gives identical results, and a resumed run matches an uninterrupted one exactly", async () => {
  const run = async (resumeFrom?: TrainState, interruptAfter?: number) => {
    const p = initLM(c, 3);
    const vars = lmVariables(p);
    let saved: TrainState | undefined;
    let ran = 0;
    const opts = lmRun(vars, p);
    const hist = await train({
      ...opts,
      onProgress: (pr) => { ran++; if (pr.done === interruptAfter) throw new Error("interrupted"); },
      checkpoint: { every: 3, save: (s) => { saved = { ...s, params: Object.fromEntries(Object.entries(s.params).map(([k, t]) => [k, t.clone()])), optimizer: { t: s.optimizer.t, m: Object.fromEntries(Object.entries(s.optimizer.m).map(([k, t]) => [k, t.clone()])), v: Object.fromEntries(Object.entries(s.optimizer.v).map(([k, t]) => [k, t.clone()])) } }; }, load: () => resumeFrom },
    }).catch((e: Error) => (e.message === "interrupted" ? undefined : Promise.reject(e)));
    const values = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, Array.from(v.dataSync())]));
    disposeParams(vars);
    return { hist, values, saved, ran };
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a.values, b.values, "same seed, same backend -> identical parameters");
  assert.deepEqual(a.hist, b.hist);
  const partial = await run(undefined, 4); // checkpoint at 3 saved, then killed during step 4
  assert.equal(partial.hist, undefined);
  assert.equal(partial.saved!.step, 3);
  const resumed = await run(partial.saved);
  assert.equal(resumed.ran, 3, "the resumed run executed steps 3..5 only");
  assert.deepEqual(resumed.values, a.values, "resumed parameters equal the uninterrupted run's");
  assert.deepEqual(resumed.hist, a.hist);
  assert.notDeepEqual(a.hist![0].loss, a.hist![5].loss);
});

test("gradient accumulation over two half batches equals one full batch", async () => {
  const final = async (accumulate: number) => {
    const p = initLM(PRESETS.tiny, 9);
    const vars = lmVariables(p);
    const rows = 4 / accumulate;
    await train({
      variables: vars, steps: 3, optimizer: { lr: 1e-2 }, accumulate,
      batches: (_s, micro) => data.slice(micro * rows, micro * rows + rows),
      loss: (batch: number[][]) => lmLoss(p, PRESETS.tiny, tf.tensor2d(batch, undefined, "int32")),
    });
    const out = Array.from(vars.wte.dataSync());
    disposeParams(vars);
    return out;
  };
  const one = await final(1);
  const two = await final(2);
  const init = (() => { const p = initLM(PRESETS.tiny, 9); const x = Array.from(p.wte.dataSync()); disposeParams(lmVariables(p)); return x; })();
  assert.ok(one.some((x, i) => Math.abs(x - init[i]) > 1e-3), "training moved the parameters");
  assert.ok(one.every((x, i) => Math.abs(x - two[i]) < 1e-5));
});

test("a NaN loss stops training with a typed error naming the step", async () => {
  const w = tf.variable(tf.scalar(1), true, "w_nan_test");
  await assert.rejects(
    train({ variables: { w }, steps: 5, optimizer: { lr: 0.1 }, batches: () => null, loss: (_b, ctx) => (ctx.step === 2 ? tf.div(tf.mul(w, 0), 0) : tf.square(w)) as tf.Scalar }),
    (e: { _tag: string; step: number; message: string }) => e._tag === "NonFiniteLossError" && e.step === 2 && /step 2/.test(e.message),
  );
  w.dispose();
});

test("a tiny model overfits a tiny corpus to near-zero loss without leaking tensors", async () => {
  const cfg = PRESETS.tiny;
  const p = initLM(cfg, 1);
  const vars = lmVariables(p);
  const corpus = randomIds(2, cfg.contextLength + 1, cfg.vocabSize, 77);
  const opts = {
    variables: vars, optimizer: { lr: 2e-2 }, schedule: { warmup: 10 }, batches: () => corpus,
    loss: (b: number[][]) => lmLoss(p, cfg, tf.tensor2d(b, undefined, "int32")),
  };
  await train({ ...opts, steps: 1 }); // burn-in
  const before = tf.memory().numTensors;
  const hist = await train({ ...opts, steps: 80, evalEvery: 30, evalLoss: () => tf.tidy(() => opts.loss(corpus).dataSync()[0]) });
  assert.equal(tf.memory().numTensors, before, "train() leaves no tensors behind");
  const last = hist[hist.length - 1];
  assert.ok(hist[0].loss > 3, `initial loss ${hist[0].loss} ~ ln 64`);
  assert.ok(last.evalLoss! < 0.05, `final loss ${last.evalLoss}`);
  assert.equal(hist.filter((h) => h.evalLoss !== undefined).length, 3);
  disposeParams(vars);
});
