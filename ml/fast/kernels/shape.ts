// Native data-movement kernels: Transpose, Slice, SplitV, Concat (all one strided copy each),
// GatherV2 (embedding lookup) and UnsortedSegmentSum (its gradient).
import * as tf from "@tensorflow/tfjs";
import type { FastImpl, Info } from "./util.ts";
import { alloc, collapse, f32, i32, int32s, output, size, stridesOf } from "./util.ts";
import type { NativeAddon } from "../addon.ts";

/** dst[offset + idx . dstStrides] = src[offset + idx . srcStrides] over `shape`. */
const copy = (native: NativeAddon, shape: readonly number[], src: Float32Array, so: number, ss: readonly number[],
  dst: Float32Array, dof: number, ds: readonly number[]): void => {
  if (size(shape) === 0) return;
  const c = collapse(shape, [ss, ds]);
  native.copyStrided(int32s(c.shape), src, so, int32s(c.strides[0]), dst, dof, int32s(c.strides[1]));
};

const transpose: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { x } = inputs;
  const xv = f32(backend, x);
  if (!xv) return null;
  const perm = attrs?.perm as number[];
  const shape = perm.map((p) => x.shape[p]);
  const xs = stridesOf(x.shape);
  const out = alloc(backend, xv.length);
  copy(native, shape, xv, 0, perm.map((p) => xs[p]), out, 0, stridesOf(shape));
  return output(backend, shape, out);
};

/** Copies the box [begin, begin + shape) of x into a new contiguous tensor. */
const sliceOf = (native: NativeAddon, backend: Parameters<FastImpl>[0]["backend"], x: Info, xv: Float32Array,
  begin: number[], shape: number[]): Info => {
  const xs = stridesOf(x.shape);
  const out = alloc(backend, size(shape));
  const offset = begin.reduce((acc, b, d) => acc + b * xs[d], 0);
  copy(native, shape, xv, offset, xs, out, 0, stridesOf(shape));
  return output(backend, shape, out);
};

const slice: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { x } = inputs;
  const xv = f32(backend, x);
  if (!xv) return null;
  const [begin, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs?.begin as number[], attrs?.size as number[]);
  tf.slice_util.assertParamsValid(x as tf.Tensor, begin, sz);
  return sliceOf(native, backend, x, xv, begin, sz);
};

const splitV: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { x } = inputs;
  const xv = f32(backend, x);
  if (!xv) return null;
  const axis = tf.util.parseAxisParam(attrs?.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs?.numOrSizeSplits as number[] | number, axis);
  const begin = x.shape.map(() => 0);
  return sizes.map((s) => {
    const shape = x.shape.slice();
    shape[axis] = s;
    const part = sliceOf(native, backend, x, xv, begin.slice(), shape);
    begin[axis] += s;
    return part;
  });
};

const concat: FastImpl = ({ inputs, attrs, backend }, native) => {
  const xs = Object.values(inputs);
  const vs = xs.map((x) => f32(backend, x));
  if (xs.length === 0 || vs.some((v) => !v)) return null;
  const axis = tf.util.parseAxisParam(attrs?.axis as number, xs[0].shape)[0];
  const shape = tf.backend_util.computeOutShape(xs.map((x) => x.shape), axis);
  const out = alloc(backend, size(shape));
  const os = stridesOf(shape);
  let at = 0;
  xs.forEach((x, i) => {
    copy(native, x.shape, vs[i]!, 0, stridesOf(x.shape), out, at * os[axis], os);
    at += x.shape[axis];
  });
  return output(backend, shape, out);
};

// out = x[..., indices, ...] along `axis` (batchDims 0): (outer, nx, inner) -> (outer, nidx, inner).
const gatherV2: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { x, indices } = inputs;
  const xv = f32(backend, x), iv = i32(backend, indices);
  if (!xv || !iv || (attrs?.batchDims as number | undefined)) return null;
  const axis = tf.util.parseAxisParam(attrs?.axis as number, x.shape)[0];
  const outer = size(x.shape.slice(0, axis)), inner = size(x.shape.slice(axis + 1));
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = alloc(backend, size(shape));
  if (out.length > 0 && !native.gather(outer, x.shape[axis], inner, xv, iv, out)) return null; // stock kernel reports the bad index
  return output(backend, shape, out);
};

// out(seg[i], ...) += x(i, ...) with segmentIds' shape a prefix of x's.
const unsortedSegmentSum: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { x, segmentIds } = inputs;
  const xv = f32(backend, x), sv = i32(backend, segmentIds);
  const r = segmentIds.shape.length;
  if (!xv || !sv || segmentIds.shape.some((d, i) => d !== x.shape[i])) return null;
  const numSegments = attrs?.numSegments as number;
  const inner = size(x.shape.slice(r));
  const shape = [numSegments, ...x.shape.slice(r)];
  const out = alloc(backend, numSegments * inner);
  native.segmentSum(sv.length, inner, xv, sv, numSegments, out);
  return output(backend, shape, out);
};

/** Kernel name -> native implementation, for the data-movement kernels. */
export const shapeKernels = (): Record<string, FastImpl> => ({
  Transpose: transpose,
  Slice: slice,
  SplitV: splitV,
  Concat: concat,
  GatherV2: gatherV2,
  UnsortedSegmentSum: unsortedSegmentSum,
});
