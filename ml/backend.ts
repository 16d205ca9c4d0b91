// Backend resolution (issue 3, item 1). Order for "auto": tfjs-node-gpu (when installed AND a GPU
// works) -> tfjs-node -> the project's fast CPU path (ml/fast, issue 7) -> stock wasm. The two
// node packages are optional accelerators a user installs on a machine with internet; they are
// never imported statically, so nothing depends on them. `--backend` overrides the order.
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { BackendError } from "./errors.ts";
import { resetOpsImpl } from "./ops.ts";

export const BACKENDS = ["auto", "tfjs-node-gpu", "tfjs-node", "fast", "wasm", "cpu"] as const;
export type BackendRequest = (typeof BACKENDS)[number];
export interface BackendChoice {
  /** The resolved request ("tfjs-node-gpu" | "tfjs-node" | "fast" | "wasm" | "cpu"). */
  name: Exclude<BackendRequest, "auto">;
  /** Human-readable detail: tf backend name, why others were skipped. */
  detail: string;
}

const errMsg = (e: unknown): string => (e instanceof Error ? e.message.split("\n")[0] : String(e));

/** Import an optional package by a computed specifier, so neither tsc nor bundlers require it. */
const importOptional = async (spec: string): Promise<unknown> => import(spec);

const tryTfjsNode = async (gpu: boolean): Promise<string> => {
  const pkg = gpu ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
  try {
    await importOptional(pkg);
  } catch {
    throw new BackendError({ backend: pkg, message: `${pkg} is not installed; install it with \`npm install ${pkg}@4.22.0\` on a machine with internet` });
  }
  if (!(await tf.setBackend("tensorflow")))
    throw new BackendError({ backend: pkg, message: `${pkg} loaded but its "tensorflow" backend failed to initialise` });
  if (gpu) {
    // NodeJSKernelBackend exposes whether TensorFlow found a GPU device.
    const onGpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
    if (!onGpu) throw new BackendError({ backend: pkg, message: `${pkg} is installed but found no working GPU (check CUDA/cuDNN)` });
  }
  return `tf backend "tensorflow" via ${pkg}`;
};

const tryFast = async (): Promise<string> => {
  let mod: { registerFastBackend?: () => Promise<string>; activateFastPath?: () => Promise<string> };
  try {
    mod = (await import("./fast/index.ts")) as typeof mod;
  } catch (e) {
    throw new BackendError({ backend: "fast", message: `the fast CPU path (ml/fast) is not available: ${errMsg(e)}` });
  }
  // activateFastPath (when provided) registers, switches and installs its fused ops (setOpsImpl).
  if (typeof mod.activateFastPath === "function") return `tf backend "${await mod.activateFastPath()}" (native fast CPU path, fused ops)`;
  if (typeof mod.registerFastBackend !== "function")
    throw new BackendError({ backend: "fast", message: "ml/fast/index.ts exports neither activateFastPath() nor registerFastBackend()" });
  const name = await mod.registerFastBackend();
  if (!(await tf.setBackend(name))) throw new BackendError({ backend: "fast", message: `fast backend "${name}" failed to initialise` });
  return `tf backend "${name}" (native fast CPU path)`;
};

/** Directory holding the tfjs-backend-wasm .wasm binaries, found through node's resolver. */
export const wasmDir = (): string => {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + "/";
};

let wasmReady = false;
const tryWasm = async (): Promise<string> => {
  try {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    if (!wasmReady) {
      wasm.setWasmPaths(wasmDir());
      registerWasmExtras();
      wasmReady = true;
    }
    if (!(await tf.setBackend("wasm"))) throw new Error("setBackend('wasm') returned false");
  } catch (e) {
    throw new BackendError({ backend: "wasm", message: `stock wasm backend failed: ${errMsg(e)}` });
  }
  return `tf backend "wasm" (SIMD ${await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")}, 1 thread under Node) + UnsortedSegmentSum kernel`;
};

const tryCpu = async (): Promise<string> => {
  await tf.setBackend("cpu");
  return `tf backend "cpu" (pure JS; slow, for tests and debugging)`;
};

const attempt: Record<Exclude<BackendRequest, "auto">, () => Promise<string>> = {
  "tfjs-node-gpu": () => tryTfjsNode(true),
  "tfjs-node": () => tryTfjsNode(false),
  fast: tryFast,
  wasm: tryWasm,
  cpu: tryCpu,
};

/**
 * Resolve and activate a backend. An explicit request either succeeds or throws a BackendError;
 * "auto" walks tfjs-node-gpu -> tfjs-node -> fast -> wasm and says in `detail` why it skipped any.
 * The op table is reset to the pure-tfjs references first; the fast path installs its fused ops.
 */
export const initBackend = async (requested: string = "auto"): Promise<BackendChoice> => {
  if (!(BACKENDS as readonly string[]).includes(requested))
    throw new BackendError({ backend: requested, message: `unknown backend "${requested}"; choose one of: ${BACKENDS.join(", ")}` });
  resetOpsImpl();
  const req = requested as BackendRequest;
  if (req !== "auto") return { name: req, detail: await attempt[req]() };
  const skipped: string[] = [];
  for (const name of ["tfjs-node-gpu", "tfjs-node", "fast", "wasm"] as const) {
    try {
      const detail = await attempt[name]();
      return { name, detail: skipped.length ? `${detail}; skipped: ${skipped.join("; ")}` : detail };
    } catch (e) {
      skipped.push(`${name}: ${errMsg(e)}`);
    }
  }
  throw new BackendError({ backend: "auto", message: `no backend could be initialised: ${skipped.join("; ")}` });
};

/**
 * Kernels the stock wasm backend lacks. UnsortedSegmentSum is needed by the gradient of
 * tf.gather (the embedding lookups): out[s, ...] = sum over i with ids[i] = s of x[i, ...].
 * Registered once per process; a fast path may register a faster one for its own backend.
 */
export const registerWasmExtras = (): void => {
  if (tf.getKernel("UnsortedSegmentSum", "wasm")) return;
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as {
        readSync(id: object): ArrayLike<number>;
        makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
        typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
      };
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
      const nIds = segmentIds.shape.reduce((a, d) => a * d, 1);
      const inner = x.shape.slice(segmentIds.shape.length).reduce((a, d) => a * d, 1);
      const xs = b.readSync(x.dataId);
      const ids = b.readSync(segmentIds.dataId);
      const out = b.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
      const o = b.typedArrayFromHeap(out); // zero-initialised below: the heap is not
      o.fill(0);
      for (let i = 0; i < nIds; i++) {
        const s = ids[i];
        if (s < 0 || s >= numSegments) continue; // TF semantics: out-of-range ids are dropped
        const src = i * inner;
        const dst = s * inner;
        for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
      }
      return out;
    },
  });
};
