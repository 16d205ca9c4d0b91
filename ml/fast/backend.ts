// The "acft" tfjs backend: a MathBackendCPU (tensor data in JS typed arrays, which the addon reads
// and writes without copying; output buffers recycled, see buffers.ts) whose hot kernels run natively. Every stock cpu kernel is copied
// under the new name; the kernels in kernels/{math,shape}.ts override their cpu versions (and fall
// back to them for dtypes/attributes they do not handle); kernels/fused.ts adds the fused ones.
import * as tf from "@tensorflow/tfjs";
import { loadAddon } from "./addon.ts";
import { BackendError } from "../errors.ts";
import { setOpsImpl } from "../ops.ts";
import { fastOps } from "./ops.ts";
import { FAST_BACKEND, fusedKernels } from "./kernels/fused.ts";
import { mathKernels } from "./kernels/math.ts";
import { shapeKernels } from "./kernels/shape.ts";
import { fastKernel, withViewCheck } from "./kernels/util.ts";
import { AcftBackend } from "./buffers.ts";

export { FAST_BACKEND };

/** Names of the stock kernels that run natively on the "acft" backend. */
export const nativeKernelNames = (): string[] => [...Object.keys(mathKernels()), ...Object.keys(shapeKernels())];

let registered = false;

/**
 * Registers the "acft" backend (idempotent) and returns its name; it does not switch to it
 * (`await tf.setBackend(name)`). It also installs the fused ops in ml/ops.ts (setOpsImpl): they
 * check the active backend on every call and use the pure-tfjs references on any other backend,
 * so they are safe to leave installed. Throws BackendError when the addon is missing or broken.
 */
export const registerFastBackend = async (): Promise<string> => {
  const native = loadAddon();
  setOpsImpl(fastOps); // every call: ml/backend.ts resets the op table before resolving a backend
  if (registered) return FAST_BACKEND;
  const cpuKernels = tf.getKernelsForBackend("cpu");
  if (cpuKernels.length === 0) {
    throw new BackendError({ backend: "fast",
      message: "the tfjs cpu kernels are not registered; import @tensorflow/tfjs before ml/fast" });
  }
  // Priority 0: never chosen implicitly over cpu/wasm; the caller opts in with tf.setBackend.
  if (!tf.registerBackend(FAST_BACKEND, () => new AcftBackend(), 0)) {
    throw new BackendError({ backend: "fast",
      message: `a tfjs backend named "${FAST_BACKEND}" is already registered by someone else` });
  }
  const overrides = { ...mathKernels(), ...shapeKernels() };
  for (const config of cpuKernels) {
    const impl = overrides[config.kernelName];
    tf.registerKernel(impl
      ? fastKernel(config.kernelName, FAST_BACKEND, impl, native, config.kernelFunc)
      : { ...config, backendName: FAST_BACKEND, kernelFunc: withViewCheck(config.kernelFunc) });
  }
  for (const [name, impl] of Object.entries(fusedKernels())) {
    tf.registerKernel(fastKernel(name, FAST_BACKEND, impl, native, undefined));
  }
  registered = true;
  return FAST_BACKEND;
};

/** Registers and switches to the "acft" backend, with the fused ops installed. Returns its name. */
export const activateFastPath = async (): Promise<string> => {
  const name = await registerFastBackend();
  if (!(await tf.setBackend(name))) {
    throw new BackendError({ backend: "fast", message: `tf.setBackend("${name}") failed to initialise the fast backend` });
  }
  setOpsImpl(fastOps);
  return name;
};

/** Threads the native kernels use (default: all cores, at most 8). */
export const setFastThreads = (n: number): void => {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setFastThreads: n must be an integer >= 1 (got ${n})`);
  loadAddon().setNumThreads(n);
};

/** What the addon was built for, e.g. { isa: "avx512", threads: 2 }; throws BackendError if absent. */
export const fastInfo = (): { isa: string; threads: number } => {
  const native = loadAddon();
  return { isa: native.isa(), threads: native.numThreads() };
};
