// KV-cached sampling throughput (issue 7): 32 sequences x 64 new tokens on the reference config,
// through ml/generate.ts, on the fast path (acft + fused ops) and, with --wasm, the stock wasm one.
//
//   npx tsx bench/fast-sample.ts [--threads N] [--repeats 3] [--wasm]
import * as tf from "@tensorflow/tfjs";
import { PRESETS, disposeParams, initLM, lmVariables } from "../ml/lm.ts";
import { generateIds } from "../ml/generate.ts";
import { resetOpsImpl } from "../ml/ops.ts";
import { initBackend } from "../ml/backend.ts";
import { activateFastPath, fastInfo, setFastThreads } from "../ml/fast/index.ts";

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const c = PRESETS.reference;
const N = 32, NEW = 64;

const measure = (label: string, repeats: number): void => {
  const p = initLM(c, 1);
  const prompts = Array.from({ length: N }, () => [0]);
  const ms: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    generateIds(p, c, prompts, { maxNewTokens: NEW, temperature: 1, seed: r });
    if (r > 0) ms.push(performance.now() - t0); // first run warms up
  }
  ms.sort((a, b) => a - b);
  const med = ms[Math.floor(ms.length / 2)];
  console.log(`${label.padEnd(6)} sample ${((N * NEW) / med * 1000).toFixed(0).padStart(6)} tok/s (${N} x ${NEW}, KV cache; median of ${repeats})`);
  disposeParams(lmVariables(p));
};

await activateFastPath();
const threads = Number(arg("threads", "0"));
if (threads > 0) setFastThreads(threads);
console.log(`addon ${JSON.stringify(fastInfo())}, load average ${(await import("node:os")).loadavg()[0].toFixed(2)}`);
const repeats = Number(arg("repeats", "3"));
measure("fast", repeats);
if (process.argv.includes("--wasm")) {
  resetOpsImpl();
  await initBackend("wasm");
  measure("wasm", 1);
}
void tf;
