// Shared glue for native kernels: typed views of cpu-backend storage, shape/stride algebra, and
// `fastKernel`, which wraps a native implementation so it falls back to the stock cpu kernel for
// the cases it declines (other dtypes, unsupported attributes).
import * as tf from "@tensorflow/tfjs";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { NativeAddon } from "../addon.ts";
import { AcftBackend } from "../buffers.ts";

export type Cpu = MathBackendCPU;
export type Info = tf.TensorInfo;
export type KernelArgs = { inputs: Record<string, Info>; attrs?: Record<string, unknown>; backend: Cpu };
/** A native implementation; returns null to hand the call to the stock cpu kernel. */
export type FastImpl = (args: KernelArgs, native: NativeAddon) => Info | Info[] | null;

/** The Float32Array behind a float32 tensor, or null (other dtype, complex, not materialised). */
export const f32 = (backend: Cpu, t: Info): Float32Array | null => {
  if (t.dtype !== "float32") return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : null;
};

export const i32 = (backend: Cpu, t: Info): Int32Array | null => {
  if (t.dtype !== "int32") return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Int32Array ? v : null;
};

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Row-major strides of a shape. */
export const stridesOf = (shape: readonly number[]): number[] => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
};

/** An output buffer of n floats (recycled on the acft backend; contents arbitrary: overwrite all). */
export const alloc = (backend: Cpu, n: number): Float32Array =>
  backend instanceof AcftBackend ? backend.alloc(n) : new Float32Array(n);

/** A float32 output tensor on the backend. */
export const output = (backend: Cpu, shape: number[], values: Float32Array): Info =>
  backend.makeTensorInfo(shape, "float32", values);

/**
 * Merges adjacent axes that every strided view walks contiguously (stride[d] == stride[d+1] *
 * shape[d+1] for all views) and drops size-1 axes, so native loops see the fewest, longest rows.
 * Returns the collapsed shape and one collapsed stride list per view (at least rank 1).
 */
export const collapse = (shape: readonly number[], views: readonly (readonly number[])[]):
  { shape: number[]; strides: number[][] } => {
  const dims: number[] = [];
  const out: number[][] = views.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && views.every((s, v) => out[v][last] === s[d] * shape[d])) {
      dims[last] *= shape[d];
      views.forEach((s, v) => (out[v][last] = s[d]));
    } else {
      dims.push(shape[d]);
      views.forEach((s, v) => out[v].push(s[d]));
    }
  }
  if (dims.length === 0) return { shape: [1], strides: views.map(() => [1]) };
  return { shape: dims, strides: out };
};

/** Strides of `inShape` broadcast (right-aligned) to `outShape`: 0 on broadcast axes. */
export const broadcastStrides = (inShape: readonly number[], outShape: readonly number[]): number[] => {
  const s = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((n, d) => (d < off || inShape[d - off] === 1 ? 0 : s[d - off]));
};

export const int32s = (xs: readonly number[]): Int32Array => Int32Array.from(xs);

/** A kernel config for backend `backendName` running `impl`, falling back to `fallback`. */
export const fastKernel = (
  kernelName: string,
  backendName: string,
  impl: FastImpl,
  native: NativeAddon,
  fallback: tf.KernelFunc | undefined,
): tf.KernelConfig => ({
  kernelName,
  backendName,
  kernelFunc: ((args: KernelArgs) => {
    const r = impl(args, native);
    if (r !== null) return r;
    if (!fallback) throw new Error(`acft backend: ${kernelName} has no native path for these inputs and no fallback`);
    return withViewCheck(fallback)(args as unknown as Parameters<tf.KernelFunc>[0]);
  }) as unknown as tf.KernelFunc,
});

/**
 * Wraps a stock cpu kernel so that an output sharing memory with an input (a subarray view) pins
 * the input's buffer against reuse (see ../buffers.ts).
 */
export const withViewCheck = (kernel: tf.KernelFunc): tf.KernelFunc => ((args: Parameters<tf.KernelFunc>[0]) => {
  const out = kernel(args);
  const backend = args.backend as unknown;
  if (backend instanceof AcftBackend) {
    const inputs = Object.values(args.inputs as Record<string, Info>);
    backend.checkViews(inputs, Array.isArray(out) ? out : [out]);
  }
  return out;
}) as tf.KernelFunc;
