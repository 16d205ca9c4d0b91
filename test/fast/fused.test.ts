// Each fused op of ml/fast/ops.ts (on "acft") agrees with its pure-tfjs reference in ml/ops.ts
// (on the stock "cpu" backend): the value and the gradient w.r.t. every float input for a random
// upstream gradient, over several shapes including odd sizes.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { referenceOps, MASKED } from "../../ml/ops.ts";
import { fastOps } from "../../ml/fast/index.ts";
import { agree, randint, randn, setup, skipReason, withGrads, type Spec } from "./helpers.ts";

const skip = skipReason();
await setup();
const opts = skip ? { skip } : {};
const fast = fastOps as Required<typeof fastOps>;
const ref = referenceOps;

test("layerNorm: value and gradients (x, gain, bias) match the reference", opts, () => {
  for (const [i, shape] of [[2, 3, 8], [5, 1], [7, 33], [2, 2, 2, 129]].entries()) {
    const c = shape[shape.length - 1];
    const specs = [randn(shape, i, 3), randn([c], 10 + i), randn([c], 20 + i)];
    const f = (impl: typeof ref) => withGrads((x, g, b) => impl.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D), [0, 1, 2], 30 + i);
    agree(`layerNorm ${shape}`, specs, f(fast), f(ref), 1e-3, 1e-4);
  }
  // non-default eps reaches the kernel
  const tiny = { shape: [3, 4], values: Float32Array.from({ length: 12 }, (_, j) => (j % 4) * 1e-3) };
  agree("layerNorm eps", [tiny, randn([4], 1), randn([4], 2)],
    (x, g, b) => fast.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 0.1),
    (x, g, b) => ref.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 0.1));
});

test("gelu (tanh form): value and gradient match the reference", opts, () => {
  for (const [i, shape] of [[1], [3, 17], [4, 5, 129]].entries()) {
    const f = (impl: typeof ref) => withGrads((x) => impl.gelu(x), [0], 40 + i);
    agree(`gelu ${shape}`, [randn(shape, i, 4)], f(fast), f(ref), 1e-4, 1e-5);
  }
});

test("rmsNorm: value and gradients (x, gain) match the reference, default and other eps", opts, () => {
  for (const [i, shape] of [[2, 3, 8], [5, 1], [7, 33], [2, 2, 2, 129]].entries()) {
    const c = shape[shape.length - 1];
    const specs = [randn(shape, 70 + i, 3), randn([c], 80 + i)];
    const f = (impl: typeof ref, eps?: number) => withGrads((x, g) => impl.rmsNorm(x, g as tf.Tensor1D, eps), [0, 1], 90 + i);
    agree(`rmsNorm ${shape}`, specs, f(fast), f(ref), 1e-3, 1e-4);
    agree(`rmsNorm ${shape} eps 0.5`, specs, f(fast, 0.5), f(ref, 0.5), 1e-3, 1e-4);
  }
});

test("swiglu: value and gradients (gate, up) match the reference, incl. large |gate|", opts, () => {
  for (const [i, shape] of [[1], [3, 17], [4, 5, 129]].entries()) {
    const f = (impl: typeof ref) => withGrads((g, u) => impl.swiglu(g, u), [0, 1], 100 + i);
    agree(`swiglu ${shape}`, [randn(shape, 110 + i, 4), randn(shape, 120 + i)], f(fast), f(ref), 1e-4, 1e-5);
  }
  const extreme = { shape: [6], values: Float32Array.from([-100, -30, -1e-3, 0, 30, 100]) };
  agree("swiglu extremes", [extreme, randn([6], 1)], withGrads((g, u) => fast.swiglu(g, u), [0, 1], 3),
    withGrads((g, u) => ref.swiglu(g, u), [0, 1], 3), 1e-4, 1e-5);
});

test("rope: value and gradient (x) match the reference, per-row and shared angles, odd sizes", opts, () => {
  for (const [i, [b, h, t, d, cb]] of [[1, 1, 1, 2, 1], [2, 3, 5, 6, 2], [3, 2, 7, 10, 1], [2, 4, 33, 64, 2]].entries()) {
    const specs = [randn([b, h, t, d], 130 + i, 2), randn([cb, 1, t, d / 2], 140 + i), randn([cb, 1, t, d / 2], 150 + i)];
    const f = (impl: typeof ref) => withGrads((x, c, s) => impl.rope(x as tf.Tensor4D, c as tf.Tensor4D, s as tf.Tensor4D), [0], 160 + i);
    agree(`rope ${[b, h, t, d, cb]}`, specs, f(fast), f(ref), 1e-4, 1e-5);
  }
});

test("tokenCrossEntropy and softmaxCrossEntropy (with and without mask) match the reference", opts, () => {
  for (const [i, [n, v]] of [[1, 2], [7, 33], [32, 257]].entries()) {
    const logits = randn([n, v], 50 + i, 3), targets = randint([n], v, 60 + i);
    const mask: Spec = { shape: [n], values: Float32Array.from({ length: n }, (_, j) => (j % 3 === 0 ? 0 : 1)) };
    const tok = (impl: typeof ref) => withGrads((l, t) => impl.tokenCrossEntropy(l as tf.Tensor2D, t as tf.Tensor1D), [0], 70 + i);
    agree(`tokenCE ${n}x${v}`, [logits, targets], tok(fast), tok(ref), 1e-4, 1e-5);
    const masked = (impl: typeof ref) => withGrads((l, t, m) =>
      impl.softmaxCrossEntropy(l as tf.Tensor2D, t as tf.Tensor1D, m as tf.Tensor1D), [0], 80 + i);
    agree(`softmaxCE masked ${n}x${v}`, [logits, targets, mask], masked(fast), masked(ref), 1e-4, 1e-6);
    const plain = (impl: typeof ref) => withGrads((l, t) => impl.softmaxCrossEntropy(l as tf.Tensor2D, t as tf.Tensor1D), [0], 90 + i);
    agree(`softmaxCE ${n}x${v}`, [logits, targets], plain(fast), plain(ref), 1e-4, 1e-6);
  }
});

test("tokenCrossEntropy rejects a target outside the vocabulary", opts, () => {
  void tf.setBackend("acft");
  try {
    assert.throws(() => tf.tidy(() => fast.tokenCrossEntropy(tf.zeros([2, 5]) as tf.Tensor2D, tf.tensor1d([1, 5], "int32"))),
      /outside \[0, 5\)/);
  } finally {
    void tf.setBackend("cpu");
  }
});

test("logSoftmax: value and gradient match the reference", opts, () => {
  for (const [i, shape] of [[3, 1], [2, 5, 37], [4, 1000]].entries()) {
    const f = (impl: typeof ref) => withGrads((x) => impl.logSoftmax(x), [0], 100 + i);
    agree(`logSoftmax ${shape}`, [randn(shape, 110 + i, 5)], f(fast), f(ref), 1e-4, 1e-5);
  }
});

test("causalAttention: value and gradients (q, k, v) match the reference, incl. Tq < Tk", opts, () => {
  const cases: [number, number, number, number, number][] = [
    [1, 1, 1, 1, 4], [2, 3, 7, 7, 5], [2, 4, 16, 16, 32], [1, 2, 3, 11, 6], [3, 2, 1, 9, 8],
    [1, 2, 70, 70, 8], [2, 1, 37, 45, 4], // several 32-query blocks (causal block skipping), Tq < Tk
  ];
  for (const [i, [b, h, tq, tk, d]] of cases.entries()) {
    const specs = [randn([b, h, tq, d], 120 + i), randn([b, h, tk, d], 130 + i), randn([b, h, tk, d], 140 + i)];
    const f = (impl: typeof ref) => withGrads((q, k, v) =>
      impl.causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D), [0, 1, 2], 150 + i);
    agree(`attention b${b} h${h} tq${tq} tk${tk} d${d}`, specs, f(fast), f(ref), 1e-3, 1e-5);
  }
});

test("causalAttention with a key bias (left padding) matches the reference, gradient of the bias too", opts, () => {
  const [b, h, t, d] = [2, 2, 6, 4];
  // sequence 0 has 2 padded keys, sequence 1 none; query rows at padded positions see only masked keys
  const bias: Spec = { shape: [b, 1, 1, t], values: Float32Array.from([MASKED, MASKED, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) };
  const specs = [randn([b, h, t, d], 160), randn([b, h, t, d], 161), randn([b, h, t, d], 162), bias];
  const f = (impl: typeof ref) => withGrads((q, k, v, kb) =>
    impl.causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, kb as tf.Tensor4D), [0, 1, 2, 3], 163);
  agree("attention with keyBias", specs, f(fast), f(ref), 1e-3, 1e-5);
});

test("fastOps run the fused kernels on acft and the references on any other backend", opts, async () => {
  const kernelsOf = async (backend: string): Promise<string[]> => {
    await tf.setBackend(backend);
    const x = tf.randomNormal([4, 8]);
    const info = await tf.profile(() => tf.tidy(() => fast.gelu(x)));
    x.dispose();
    return info.kernelNames;
  };
  try {
    assert.ok((await kernelsOf("acft")).includes("AcftGelu"), "gelu on acft must use the fused kernel");
    assert.ok(!(await kernelsOf("cpu")).some((k) => k.startsWith("Acft")), "gelu on cpu must use the reference");
  } finally {
    await tf.setBackend("cpu");
  }
});

test("forward-only path (no gradient tape): layerNorm, gelu and causalAttention match the reference", opts, () => {
  agree("layerNorm no tape", [randn([3, 1, 37], 200, 2), randn([37], 201), randn([37], 202)],
    (x, g, b) => fast.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D),
    (x, g, b) => ref.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D));
  agree("gelu no tape", [randn([5, 129], 203, 3)], (x) => fast.gelu(x), (x) => ref.gelu(x));
  // decode shapes (Tq = 1, the native single-query kernel): head sizes below, at and off the
  // 8-wide dot product, with and without a key bias hiding padding and not-yet-written slots
  const cases: [number, number, number, number][] = [[1, 1, 1, 3], [3, 2, 9, 8], [2, 4, 65, 32], [2, 3, 17, 13]];
  for (const [i, [b, h, tk, d]] of cases.entries()) {
    const specs = [randn([b, h, 1, d], 210 + i), randn([b, h, tk, d], 220 + i), randn([b, h, tk, d], 230 + i)];
    const att = (impl: typeof ref) => (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, kb?: tf.Tensor) =>
      impl.causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, kb as tf.Tensor4D | undefined);
    agree(`decode attention b${b} h${h} tk${tk} d${d}`, specs, att(fast), att(ref), 1e-4, 1e-6);
    // row r keeps keys [r, tk - 1 - r): left padding r and r unwritten tail slots (at least one key kept)
    const bias = Float32Array.from({ length: b * tk }, (_, j) => {
      const r = Math.floor(j / tk), kIdx = j % tk, pad = Math.min(r, Math.floor((tk - 1) / 2));
      return kIdx < pad || kIdx >= tk - pad ? MASKED : 0;
    });
    agree(`decode attention + keyBias b${b} h${h} tk${tk} d${d}`, [...specs, { shape: [b, 1, 1, tk], values: bias }],
      att(fast), att(ref), 1e-4, 1e-6);
  }
});

test("forward-only fused ops leave no tensors behind (the saved-for-backward outputs are disposed)", opts, async () => {
  await tf.setBackend("acft");
  try {
    const [x, g, b] = [tf.randomNormal([4, 1, 16]), tf.ones([16]) as tf.Tensor1D, tf.zeros([16]) as tf.Tensor1D];
    const q = tf.randomNormal([4, 2, 1, 8]) as tf.Tensor4D, k = tf.randomNormal([4, 2, 5, 8]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const outs = [fast.layerNorm(x, g, b), fast.gelu(x), fast.causalAttention(q, k, k)];
    assert.equal(tf.memory().numTensors, before + outs.length, "one tensor per call");
    tf.dispose([...outs, x, g, b, q, k]);
  } finally {
    await tf.setBackend("cpu");
  }
});

test("a whole LM gradient (GPT-2 and Llama switches) is bitwise identical for 1, 2 and 3 native threads, and across repeats", opts, async () => {
  const { PRESETS, initLM, lmLoss, lmVariables, disposeParams } = await import("../../ml/lm.ts");
  type LMConfig = import("../../ml/lm.ts").LMConfig;
  const { setFastThreads, fastInfo } = await import("../../ml/fast/index.ts");
  const { activateFastPath } = await import("../../ml/fast/index.ts");
  const { resetOpsImpl } = await import("../../ml/ops.ts");
  const before = fastInfo().threads;
  const prev = tf.getBackend();
  await activateFastPath();
  try {
    // 16 × 250 rows: many 32-row blocks of the norm gradients and many chunks of the thread pool (a
    // schedule-dependent sum shows up only when a worker takes some of them).
    const gpt2 = { ...PRESETS.reference, vocabSize: 300, contextLength: 250, dropout: 0.1 };
    const llama = { ...gpt2, norm: "rmsnorm", positions: "rope", mlp: "swiglu", mlpHidden: 200, nKVHeads: 2, qkvBias: false, projBias: false, mlpBias: false, tiedHead: false } as const;
    for (const cfg of [gpt2, llama] as LMConfig[]) {
    const p = initLM(cfg, 5);
    const ids = tf.tensor2d(randint([16, cfg.contextLength + 1], cfg.vocabSize, 9).values as Int32Array, [16, cfg.contextLength + 1], "int32");
    const mask = tf.ones([16, cfg.contextLength]) as tf.Tensor2D;
    const grads = (threads: number): Float32Array[] => {
      setFastThreads(threads);
      const { value, grads: g } = tf.variableGrads(() => lmLoss(p, cfg, ids, mask, { training: true, seed: 3 }) as tf.Scalar, Object.values(lmVariables(p)));
      const out = [value.dataSync() as Float32Array, ...Object.keys(g).sort().map((k) => g[k].dataSync() as Float32Array)];
      tf.dispose([value, ...Object.values(g)]);
      return out;
    };
    const ref = grads(1);
    for (const t of [2, 3, 2, 3, 2]) {
      const got = grads(t);
      const differ = got.filter((a, i) => !Buffer.from(a.buffer).equals(Buffer.from(ref[i].buffer))).length;
      assert.equal(differ, 0, `${cfg.norm ?? "layernorm"}: ${differ} of ${ref.length} gradient tensors differ at ${t} threads`);
    }
    tf.dispose([ids, mask]);
    disposeParams(lmVariables(p));
    }
  } finally {
    setFastThreads(before);
    resetOpsImpl();
    await tf.setBackend(prev);
  }
});
