// Loads the N-API addon built by scripts/build-native.mjs (ml/fast/native/build/Release/acft_fast.node).
// All arrays pass without copying: Float32Array/Int32Array views of tensor storage.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BackendError } from "../errors.ts";

type F32 = Float32Array;
type I32 = Int32Array;

/** The addon's functions (see native/src/addon.cc for the argument order of each). */
export interface NativeAddon {
  gemm(a: F32, b: F32, c: F32, batch: number, m: number, n: number, k: number,
    strideA: number, transA: number, strideB: number, transB: number): void;
  binary(op: number, shape: I32, a: F32, sa: I32, b: F32, sb: I32, out: F32): void;
  unary(op: number, x: F32, y: F32): void;
  copyStrided(shape: I32, src: F32, srcOffset: number, ss: I32, dst: F32, dstOffset: number, ds: I32): void;
  reduce(op: number, outer: number, red: number, inner: number, x: F32, y: F32): void;
  softmax(rows: number, n: number, x: F32, y: F32): void;
  gather(outer: number, nx: number, inner: number, x: F32, idx: I32, out: F32): boolean;
  segmentSum(n: number, inner: number, x: F32, seg: I32, nseg: number, out: F32): void;
  layerNormFwd(rows: number, c: number, x: F32, g: F32, b: F32, eps: number, y: F32, mean: F32, rstd: F32): void;
  layerNormBwd(rows: number, c: number, dy: F32, x: F32, g: F32, mean: F32, rstd: F32, dx: F32, dg: F32, db: F32): void;
  rmsNormFwd(rows: number, c: number, x: F32, g: F32, eps: number, y: F32, rstd: F32): void;
  rmsNormBwd(rows: number, c: number, dy: F32, x: F32, g: F32, rstd: F32, dx: F32, dg: F32): void;
  swigluFwd(gate: F32, up: F32, y: F32): void;
  swigluBwd(dy: F32, gate: F32, up: F32, dgate: F32, dup: F32): void;
  rope(b: number, h: number, t: number, d: number, cb: number, x: F32, cos: F32, sin: F32, sign: number, y: F32): void;
  geluFwd(x: F32, y: F32): void;
  geluBwd(dy: F32, x: F32, dx: F32): void;
  xentFwd(rows: number, v: number, x: F32, t: I32, nll: F32, lse: F32): boolean;
  xentBwd(rows: number, v: number, dnll: F32, x: F32, t: I32, lse: F32, dx: F32): void;
  logSoftmaxFwd(rows: number, n: number, x: F32, y: F32): void;
  logSoftmaxBwd(rows: number, n: number, dy: F32, y: F32, dx: F32): void;
  adamw(p: F32, g: F32, m: F32, v: F32, lr: number, b1: number, b2: number, eps: number, wd: number, t: number,
    po: F32, mo: F32, vo: F32): void;
  attentionFwd(bh: number, h: number, tq: number, tk: number, d: number, q: F32, k: F32, v: F32, bias: F32 | null,
    out: F32, p: F32): void;
  attentionBwd(bh: number, tq: number, tk: number, d: number, causal: number, dout: F32, q: F32, k: F32, v: F32, p: F32,
    dq: F32, dk: F32, dv: F32, ds: F32): void;
  numThreads(): number;
  setNumThreads(n: number): void;
  /** "avx512" | "avx2" | "generic": the vector ISA the build was compiled for (-march at build time). */
  isa(): string;
}

/** Where the build puts the addon. */
export const addonPath = fileURLToPath(new URL("./native/build/Release/acft_fast.node", import.meta.url));

let cached: NativeAddon | undefined;

/** Loads the addon once; throws BackendError saying how to build it when it is missing/broken. */
export const loadAddon = (): NativeAddon => {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new BackendError({
      backend: "fast",
      message: `the native addon ${addonPath} is not built; run \`node scripts/build-native.mjs\` ` +
        "(needs python3, make and g++) or use the stock tfjs backends",
    });
  }
  try {
    cached = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (e) {
    throw new BackendError({
      backend: "fast",
      message: `the native addon ${addonPath} does not load (${String((e as Error).message).split("\n")[0]}); ` +
        "rebuild it with `node scripts/build-native.mjs`",
    });
  }
  applyThreadsEnv(cached);
  return cached;
};

/** ACFT_THREADS=n sets the native thread count (default: every core, at most 8). */
const applyThreadsEnv = (native: NativeAddon): void => {
  const raw = process.env.ACFT_THREADS;
  if (raw === undefined || raw === "") return;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new BackendError({ backend: "fast", message: `ACFT_THREADS must be an integer >= 1, got "${raw}"` });
  }
  native.setNumThreads(n);
};
