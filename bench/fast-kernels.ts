// Microbenchmarks of single kernels on the "acft" backend at the reference config's shapes
// (batch 16, context 128, d_model 128, 4 heads, MLP 512, vocab 2048), against the stock cpu
// backend where that finishes in reasonable time (--cpu). Prints the median ms per call.
//
//   npx tsx bench/fast-kernels.ts [--threads N] [--cpu] [--filter name]
import * as tf from "@tensorflow/tfjs";
import { fastInfo, fastOps, registerFastBackend, setFastThreads } from "../ml/fast/index.ts";
import { referenceOps } from "../ml/ops.ts";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Median wall ms of `reps` calls of f (results disposed) after 2 warm-up calls, and the mean CPU ms
 * per call over all threads (process.cpuUsage): on a loaded machine CPU time shows the work done.
 */
const time = (f: () => tf.Tensor | tf.Tensor[], reps = 15): { wall: number; cpu: number } => {
  const ms: number[] = [];
  for (let i = 0; i < 2; i++) tf.dispose(f());
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    tf.dispose(f());
    ms.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  return { wall: median(ms), cpu: (c.user + c.system) / 1000 / reps };
};

const B = 16, T = 128, C = 128, H = 4, M = 512, V = 2048, N = B * T;
const gradOf = (f: (x: tf.Tensor) => tf.Tensor) => (x: tf.Tensor) => tf.grad((y: tf.Tensor) => tf.sum(f(y)))(x);

const cases = (): [string, () => tf.Tensor | tf.Tensor[]][] => {
  const x = tf.randomNormal([N, C]), w = tf.randomNormal([C, 3 * C]), b = tf.randomNormal([3 * C]);
  const h = tf.randomNormal([N, M]), wte = tf.randomNormal([V, C]), logits = tf.randomNormal([N, V]);
  const qkv = tf.randomNormal([B, T, 3 * C]), q = tf.randomNormal([B, H, T, C / H]);
  const k = tf.randomNormal([B, H, T, C / H]), v = tf.randomNormal([B, H, T, C / H]);
  const targets = tf.randomUniform([N], 0, V, "int32") as tf.Tensor1D, g = tf.ones([C]) as tf.Tensor1D;
  const ids = tf.randomUniform([B, T], 0, V, "int32");
  return [
    ["matMul (2048x128)(128x384)", () => tf.matMul(x, w)],
    ["matMul head (2048x128)(2048x128)^T", () => tf.matMul(x, wte, false, true)],
    ["matMul head dW (2048x2048)^T(2048x128)", () => tf.matMul(logits, x, true, false)],
    ["add bias (2048x384)+(384)", () => tf.add(tf.matMul(x, w), b)],
    ["linear fused vs ref", () => (fastOps.linear ?? referenceOps.linear)(x, w as tf.Tensor2D, b as tf.Tensor1D)],
    ["split+transpose heads", () => tf.split(qkv, 3, -1).map((t) => t.reshape([B, T, H, C / H]).transpose([0, 2, 1, 3]))],
    ["concat last axis 3x(16,128,128)", () => tf.concat(tf.split(qkv, 3, -1), -1)],
    ["gather embedding (2048 ids)", () => tf.gather(wte, ids)],
    ["layerNorm fused", () => fastOps.layerNorm!(x, g, g)],
    ["layerNorm fused grad", () => gradOf((t) => fastOps.layerNorm!(t, g, g))(x)],
    ["gelu fused (2048x512)", () => fastOps.gelu!(h)],
    ["gelu fused grad", () => gradOf(fastOps.gelu!)(h)],
    ["attention fused", () => fastOps.causalAttention!(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D)],
    ["attention fused grad (q)", () => gradOf((t) => fastOps.causalAttention!(t as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D))(q)],
    ["cross-entropy fused (2048x2048)", () => fastOps.tokenCrossEntropy!(logits as tf.Tensor2D, targets)],
    ["cross-entropy fused grad", () => gradOf((t) => fastOps.tokenCrossEntropy!(t as tf.Tensor2D, targets))(logits)],
    ["softmax (2048x2048)", () => tf.softmax(logits)],
    ["sum axis 0 (2048x2048)", () => tf.sum(logits, 0)],
  ];
};

await registerFastBackend();
const threads = arg("threads");
if (threads) setFastThreads(Number(threads));
const filter = arg("filter");
console.log(`addon ${JSON.stringify(fastInfo())}, load average ${(await import("node:os")).loadavg()[0].toFixed(2)}`);
for (const backend of process.argv.includes("--cpu") ? ["acft", "cpu"] : ["acft"]) {
  await tf.setBackend(backend);
  for (const [name, f] of cases()) {
    if (filter && !name.includes(filter)) continue;
    if (backend === "cpu" && (name.includes("fused") || name.includes("linear"))) continue;
    const r = time(f, backend === "cpu" ? 3 : Number(arg("reps") ?? 15));
    console.log(`${backend.padEnd(5)} ${name.padEnd(42)} ${r.wall.toFixed(3).padStart(9)} ms wall ${r.cpu.toFixed(3).padStart(9)} ms cpu`);
  }
}
