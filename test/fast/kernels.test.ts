// Every stock kernel the "acft" backend runs natively agrees with the stock cpu kernel, forward
// and (through tf.grads of small composites) backward, on random inputs incl. odd sizes and
// broadcasting. Tolerance: float32 rounding (rtol 1e-4, atol 1e-5).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { agree, randint, randn, setup, skipReason, withGrads } from "./helpers.ts";
import { FAST_BACKEND, nativeKernelNames } from "../../ml/fast/index.ts";

const skip = skipReason();
await setup();
const opts = skip ? { skip } : {};

test("every overridden kernel name is a real tfjs cpu kernel", opts, () => {
  const cpu = new Set(tf.getKernelsForBackend("cpu").map((k) => k.kernelName));
  for (const name of nativeKernelNames()) assert.ok(cpu.has(name), `${name} is not a cpu kernel`);
  assert.ok(tf.getKernel("BatchMatMul", FAST_BACKEND));
});

const PAIRS: [number[], number[]][] = [
  [[2, 3, 5], [2, 3, 5]], [[7, 1, 9], [1, 5, 9]], [[4, 33], [33]], [[], [3, 4]], [[6, 1], [1, 7]],
  [[3, 4, 5], [3, 1, 5]], [[2, 1, 3, 1, 5], [4, 1, 6, 1]], [[0, 3], [3]],
];

test("broadcasting binary ops equal the cpu backend", opts, () => {
  const ops: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
    add: tf.add, sub: tf.sub, mul: tf.mul, maximum: tf.maximum, minimum: tf.minimum,
    squaredDifference: tf.squaredDifference, div: (a, b) => tf.div(a, tf.add(tf.abs(b), 0.5)),
    pow: (a, b) => tf.pow(tf.add(tf.abs(a), 0.1), b), cube: (a) => tf.pow(a, 3), square: (a) => tf.pow(a, 2),
  };
  PAIRS.forEach(([sa, sb], i) => {
    for (const [name, op] of Object.entries(ops)) agree(`${name} ${sa} ${sb}`, [randn(sa, i), randn(sb, 100 + i)], op);
  });
});

test("binary ops differentiate like the cpu backend (broadcast gradients reduce)", opts, () => {
  const f = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.sub(a, b), tf.add(a, tf.mul(b, b)));
  agree("grad", [randn([3, 1, 5], 1), randn([4, 5], 2)], withGrads(f, [0, 1], 3));
});

test("unary ops equal the cpu backend, including extremes and NaN", opts, () => {
  const wide = randn([1001], 5, 30);
  wide.values.set([0, -0, 1e-8, -1e-8, 88.7, 88.8, -87.5, -104, -200, 200, 0.6249, 0.6251, NaN, Infinity, -Infinity]);
  const pos = { shape: [37, 3], values: randn([37, 3], 6).values.map((v) => Math.abs(v) + 1e-3) };
  const ops: [string, (x: tf.Tensor) => tf.Tensor, typeof wide][] = [
    ["exp", tf.exp, wide], ["tanh", tf.tanh, wide], ["neg", tf.neg, wide], ["square", tf.square, wide],
    ["relu", tf.relu, wide], ["sigmoid", tf.sigmoid, wide], ["abs", tf.abs, wide],
    ["sqrt", tf.sqrt, pos], ["rsqrt", tf.rsqrt, pos], ["log", tf.log, pos], ["reciprocal", tf.reciprocal, pos],
  ];
  for (const [name, op, x] of ops) agree(name, [x], op, op, 2e-6, 1e-30);
});

test("batched matmul with transposes and batch broadcasting equals the cpu backend", opts, () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[7, 5], [5, 33], false, false], [[5, 7], [5, 33], true, false], [[7, 5], [33, 5], false, true],
    [[5, 7], [33, 5], true, true], [[2, 3, 13, 300], [2, 3, 300, 6], false, false], [[1, 9, 4], [3, 4, 2], false, false],
    [[3, 9, 4], [4, 2], false, false], [[1, 1], [1, 1], false, false], [[64, 97], [97, 65], false, false],
  ];
  cases.forEach(([sa, sb, ta, tb], i) => {
    const mm = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, ta, tb);
    // tfjs's own BatchMatMul gradient rejects broadcast batches (on every backend): forward only there.
    const sameBatch = sa.slice(0, -2).join() === sb.slice(0, -2).join();
    agree(`matMul ${sa} ${sb} ${ta} ${tb}`, [randn(sa, 10 + i), randn(sb, 20 + i)], sameBatch ? withGrads(mm, [0, 1], 30 + i) : mm);
  });
});

test("softmax and reductions equal the cpu backend (and their gradients)", opts, () => {
  const x = randn([3, 4, 37], 40, 5);
  agree("softmax", [x], withGrads((t) => tf.softmax(t), [0], 41));
  agree("softmax width 1", [randn([5, 1], 42)], (t) => tf.softmax(t));
  const axes: (number | number[] | undefined)[] = [undefined, 0, 1, 2, -1, [0, 1], [1, 2], [0, 2]];
  for (const ax of axes) {
    for (const keep of [false, true]) {
      agree(`sum ${ax} ${keep}`, [x], withGrads((t) => tf.sum(t, ax, keep), [0], 43));
      agree(`mean ${ax} ${keep}`, [x], withGrads((t) => tf.mean(t, ax, keep), [0], 44));
      agree(`max ${ax} ${keep}`, [x], (t) => tf.max(t, ax, keep));
    }
  }
});

test("transpose, slice, split, concat equal the cpu backend (and their gradients)", opts, () => {
  const x = randn([2, 5, 3, 7], 50);
  for (const perm of [[0, 2, 1, 3], [3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 3, 2]]) {
    agree(`transpose ${perm}`, [x], withGrads((t) => tf.transpose(t, perm), [0], 51));
  }
  agree("slice", [x], withGrads((t) => tf.slice(t, [1, 2, 0, 3], [1, 3, -1, 4]), [0], 52));
  agree("split 3 on last", [randn([4, 9], 53)], (t) => tf.split(t, 3, -1));
  agree("split sizes on axis 1", [x], withGrads((t) => tf.split(t, [1, 3, 1], 1)[1], [0], 54));
  agree("concat", [randn([2, 3, 4], 55), randn([2, 1, 4], 56), randn([2, 5, 4], 57)],
    withGrads((a, b, c) => tf.concat([a, b, c], 1), [0, 1, 2], 58));
  agree("concat last axis", [randn([3, 2], 59), randn([3, 5], 60)], (a, b) => tf.concat([a, b], -1));
});

test("gather (embedding lookup) and unsortedSegmentSum equal the cpu backend", opts, () => {
  const table = randn([11, 6], 70), ids = randint([3, 4], 11, 71);
  agree("gather axis 0 + grad", [table, ids], withGrads((w, i) => tf.gather(w, i), [0], 72));
  agree("gather axis 1", [randn([3, 11, 2], 73), randint([5], 11, 74)], (w, i) => tf.gather(w, i, 1));
  agree("unsortedSegmentSum", [randn([9, 5], 75), randint([9], 4, 76)], (x, s) => tf.unsortedSegmentSum(x, s as tf.Tensor1D, 4));
  agree("addN", [randn([4, 3], 77), randn([4, 3], 78), randn([4, 3], 79)], (a, b, c) => tf.addN([a, b, c]));
});

test("int32 inputs fall back to the stock kernels", opts, () => {
  agree("int add", [randint([3, 4], 9, 80), randint([4], 9, 81)], (a, b) => tf.add(a, b));
  agree("int transpose", [randint([3, 4], 9, 82)], (a) => tf.transpose(a));
});
