// Native arithmetic kernels: broadcasting binary ops, unary maths, AddN, BatchMatMul, Softmax and
// Sum/Max/Mean over a contiguous block of axes. Each declines (-> stock cpu kernel) for non-float32.
import * as tf from "@tensorflow/tfjs";
import type { FastImpl } from "./util.ts";
import { alloc, broadcastStrides, collapse, f32, int32s, output, size } from "./util.ts";

/** Binary op codes of native/src/kernels.h (BinaryOp). */
const BINARY: Record<string, number> = {
  Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6, Pow: 7,
};
/** Unary op codes of native/src/kernels.h (UnaryOp). */
const UNARY: Record<string, number> = {
  Exp: 0, Tanh: 1, Neg: 2, Sqrt: 3, Rsqrt: 4, Square: 5, Log: 6, Relu: 7, Sigmoid: 8, Abs: 9, Reciprocal: 10,
};

const binary = (op: number): FastImpl => ({ inputs, backend }, native) => {
  const { a, b } = inputs;
  const av = f32(backend, a), bv = f32(backend, b);
  if (!av || !bv) return null;
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const out = alloc(backend, size(shape));
  if (out.length === 0) return output(backend, shape, out);
  const c = collapse(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
  native.binary(op, int32s(c.shape), av, int32s(c.strides[0]), bv, int32s(c.strides[1]), out);
  return output(backend, shape, out);
};

const unary = (op: number): FastImpl => ({ inputs, backend }, native) => {
  const xv = f32(backend, inputs.x);
  if (!xv) return null;
  const out = alloc(backend, xv.length);
  native.unary(op, xv, out);
  return output(backend, inputs.x.shape.slice(), out);
};

// out = sum_i inputs[i]; AddN is how autodiff accumulates several gradients of one tensor.
const addN: FastImpl = ({ inputs, backend }, native) => {
  const xs = Object.values(inputs);
  const vs = xs.map((x) => f32(backend, x));
  if (xs.length < 2 || vs.some((v) => !v)) return null;
  const n = vs[0]!.length;
  const one = int32s([n]), unit = int32s([1]);
  const out = alloc(backend, n);
  native.binary(0, one, vs[0]!, unit, vs[1]!, unit, out);
  for (let i = 2; i < vs.length; i++) native.binary(0, one, out, unit, vs[i]!, unit, out);
  return output(backend, xs[0].shape.slice(), out);
};

// (..., M, K) x (..., K, N) with transposes; the batch of either side may broadcast from 1.
const batchMatMul: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { a, b } = inputs;
  const av = f32(backend, a), bv = f32(backend, b);
  if (!av || !bv || a.shape.length < 2 || b.shape.length < 2) return null;
  const tA = Boolean(attrs?.transposeA), tB = Boolean(attrs?.transposeB);
  const ra = a.shape.length, rb = b.shape.length;
  const m = tA ? a.shape[ra - 1] : a.shape[ra - 2], k = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const k2 = tB ? b.shape[rb - 1] : b.shape[rb - 2], n = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== k2) return null; // let the stock kernel raise its shape error
  const batchShapeA = a.shape.slice(0, -2), batchShapeB = b.shape.slice(0, -2);
  const batchA = size(batchShapeA), batchB = size(batchShapeB);
  const batchShape = tf.backend_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  const batch = size(batchShape);
  if (!((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) return null;
  const out = alloc(backend, batch * m * n);
  if (out.length > 0) {
    native.gemm(av, bv, out, batch, m, n, k, batchA === 1 ? 0 : m * k, tA ? 1 : 0, batchB === 1 ? 0 : k * n, tB ? 1 : 0);
  }
  return output(backend, [...batchShape, m, n], out);
};

const softmax: FastImpl = ({ inputs, backend }, native) => {
  const { logits } = inputs;
  const xv = f32(backend, logits);
  if (!xv) return null;
  const n = logits.shape[logits.shape.length - 1] ?? 1;
  const out = alloc(backend, xv.length);
  if (out.length > 0) native.softmax(xv.length / n, n, xv, out);
  return output(backend, logits.shape.slice(), out);
};

/** Sum (0), Max (1), Mean (2) over axes that form one contiguous block. */
const reduction = (op: number): FastImpl => ({ inputs, attrs, backend }, native) => {
  const { x } = inputs;
  const xv = f32(backend, x);
  if (!xv || xv.length === 0) return null;
  // Sum/Mean name the axes `axis`, Max names them `reductionIndices`.
  const axis = (attrs?.axis ?? attrs?.reductionIndices) as number | number[];
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  if (axes.some((ax, i) => i > 0 && ax !== axes[i - 1] + 1)) return null;
  const a0 = axes.length ? axes[0] : 0, a1 = axes.length ? axes[axes.length - 1] : -1;
  const outer = size(x.shape.slice(0, a0)), red = size(x.shape.slice(a0, a1 + 1)), inner = size(x.shape.slice(a1 + 1));
  const out = alloc(backend, outer * inner);
  native.reduce(op, outer, red, inner, xv, out);
  const shape = attrs?.keepDims
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  return output(backend, shape, out);
};

/** Kernel name -> native implementation, for the arithmetic kernels. */
export const mathKernels = (): Record<string, FastImpl> => {
  const table: Record<string, FastImpl> = {
    AddN: addN,
    BatchMatMul: batchMatMul,
    Softmax: softmax,
    Sum: reduction(0),
    Max: reduction(1),
    Mean: reduction(2),
  };
  for (const [name, op] of Object.entries(BINARY)) table[name] = binary(op);
  for (const [name, op] of Object.entries(UNARY)) table[name] = unary(op);
  return table;
};
