// Training-step throughput of the reference config (issue 7) on the fast CPU path.
// One step = forward + backward + AdamW on a (batch, context+1) block of random token ids,
// tokens/step = batch * context. Prints the median over --steps timed steps after --warmup.
//
//   npx tsx bench/fast-step.ts [--mode fused|native|wasm|all] [--steps 10] [--warmup 3] [--threads N] [--profile]
//
// Modes: fused  = "acft" backend + fused ops (ml/fast/ops.ts) + fused AdamW (the fast path)
//        native = "acft" backend with the pure-tfjs reference ops (native kernels only)
//        wasm   = stock wasm backend, reference ops, tfjs-op AdamW (baseline)
import * as tf from "@tensorflow/tfjs";
import { PRESETS, initLM, lmLoss, lmVariables, disposeParams } from "../ml/lm.ts";
import { resetOpsImpl, setOpsImpl } from "../ml/ops.ts";
import { initBackend } from "../ml/backend.ts";
import { makeRng } from "../ml/prng.ts";
import {
  adamwStep, adamwStepReference, fastInfo, fastOps, registerFastBackend, setFastThreads, type AdamWSlot,
} from "../ml/fast/index.ts";

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] && !process.argv[i + 1].startsWith("--") ? process.argv[i + 1] : dflt;
};
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const c = PRESETS.reference;
const BATCH = Number(arg("batch", "16"));
const HP = { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const setMode = async (mode: string): Promise<void> => {
  resetOpsImpl();
  if (mode === "wasm") {
    await initBackend("wasm");
    return;
  }
  await tf.setBackend(await registerFastBackend());
  if (mode === "fused") setOpsImpl(fastOps);
};

/** Times `steps` training steps; returns per-step milliseconds and the last loss. */
const runMode = async (mode: string, steps: number, warmup: number, profile: boolean) => {
  await setMode(mode);
  const p = initLM(c, 1);
  const vars = lmVariables(p);
  const slots = new Map<string, AdamWSlot>(Object.entries(vars).map(([k, v]) =>
    [k, { m: tf.variable(tf.zerosLike(v), false), v: tf.variable(tf.zerosLike(v), false) }]));
  const rng = makeRng(2);
  const ids = tf.tensor2d(Int32Array.from({ length: BATCH * (c.contextLength + 1) }, () => Math.floor(rng.next() * c.vocabSize)),
    [BATCH, c.contextLength + 1], "int32");
  const update = mode === "wasm" ? adamwStepReference : adamwStep;
  let loss = NaN;
  const step = (t: number): void => {
    const { value, grads } = tf.variableGrads(() => lmLoss(p, c, ids));
    loss = value.dataSync()[0];
    for (const [k, v] of Object.entries(vars)) update(v, grads[v.name], slots.get(k)!, t, HP); // grads are keyed by variable name
    tf.dispose([value, ...Object.values(grads)]);
  };
  for (let t = 1; t <= warmup; t++) step(t);
  const before = tf.memory().numTensors;
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let t = 1; t <= steps; t++) {
    const t0 = performance.now();
    step(warmup + t);
    ms.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / steps; // CPU time of all threads per step
  const leaked = tf.memory().numTensors - before;
  if (profile) await printProfile(() => step(warmup + steps + 1));
  disposeParams(vars);
  for (const s of slots.values()) tf.dispose([s.m, s.v]);
  ids.dispose();
  return { ms, loss, leaked, cpuMs };
};

/** Per-kernel time of one step, top 15 by total ms. */
const printProfile = async (f: () => void): Promise<void> => {
  const info = await tf.profile(f);
  const by = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const e = by.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    e.n += 1;
    by.set(k.name, e);
  }
  const rows = [...by.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(`  profile: ${info.kernels.length} kernel calls, ${total.toFixed(1)} ms inside kernels`);
  for (const [name, e] of rows.slice(0, 15)) console.log(`    ${name.padEnd(22)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.n).padStart(5)} calls`);
};

const main = async (): Promise<void> => {
  const threads = Number(arg("threads", "0"));
  const steps = Number(arg("steps", "10")), warmup = Number(arg("warmup", "3"));
  const mode = arg("mode", "fused");
  const modes = mode === "all" ? ["fused", "native", "wasm"] : [mode];
  await registerFastBackend();
  if (threads > 0) setFastThreads(threads);
  const { isa, threads: nt } = fastInfo();
  const load = (await import("node:os")).loadavg()[0];
  console.log(`load average ${load.toFixed(2)} (other processes share the cores: compare medians, repeat)`);
  console.log(`reference config ${JSON.stringify(c)}, batch ${BATCH}, ${BATCH * c.contextLength} tokens/step; addon ${isa}, ${nt} threads`);
  for (const m of modes) {
    const r = await runMode(m, m === "wasm" ? Math.min(steps, 3) : steps, m === "wasm" ? 1 : warmup, flag("profile"));
    const med = median(r.ms);
    console.log(`${m.padEnd(7)} median ${med.toFixed(1)} ms/step  ${(BATCH * c.contextLength / med * 1000).toFixed(0)} tok/s ` +
      `(min ${Math.min(...r.ms).toFixed(1)}, max ${Math.max(...r.ms).toFixed(1)}; cpu ${r.cpuMs.toFixed(0)} ms/step; loss ${r.loss.toFixed(4)}; tensors leaked/step ${r.leaked / r.ms.length})`);
  }
};

await main();
