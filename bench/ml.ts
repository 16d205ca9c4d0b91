// npm run bench:ml [-- --backend wasm --steps 5 --warmup 1 --no-torch]
// npm run bench:ml -- --config gpt2-small [...]: full vs LoRA fine-tuning at GPT-2-small size (bench/mlGpt2Small.ts)
// Training and sampling throughput of the reference config (issue 3) for acft on the resolved
// backend and, side by side in the same run, for the same architecture in PyTorch
// (bench/torch_ml.py; skipped with a note when no python with torch is found).
// Ends with one JSON line. Figures are medians over steps; the machine may be shared: see docs/ml.md.
import * as tf from "@tensorflow/tfjs";
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { initBackend } from "../ml/backend.ts";
import { generateIds } from "../ml/generate.ts";
import { PRESETS, countParams, disposeParams, initLM, lmLoss, lmVariables } from "../ml/lm.ts";
import { makeRng } from "../ml/prng.ts";
import { train } from "../ml/train.ts";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string", default: "auto" },
    steps: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    "no-torch": { type: "boolean", default: false },
    python: { type: "string" },
    config: { type: "string", default: "reference" },
    batch: { type: "string", default: "2" },
    rank: { type: "string", default: "8" },
    targets: { type: "string", default: "c_attn" },
    child: { type: "string" },
    dir: { type: "string" },
  },
});
if (args.config === "gpt2-small") {
  const { runGpt2Small } = await import("./mlGpt2Small.ts");
  await runGpt2Small({ backend: args.backend!, steps: Number(args.steps), warmup: Number(args.warmup), batch: Number(args.batch), rank: Number(args.rank), targets: args.targets!, child: args.child, dir: args.dir });
  process.exit(0);
}
if (args.config !== "reference") throw new Error(`--config ${args.config}: known configs are reference, gpt2-small`);
const cfg = PRESETS.reference;
const BATCH = 16;
const SAMPLE = { batch: 32, newTokens: 64, promptLen: 8, repeats: 3 };
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const choice = await initBackend(args.backend);
console.log(`backend: ${choice.name} — ${choice.detail}`);
const p = initLM(cfg, 0);
const vars = lmVariables(p);
console.log(`config: ${JSON.stringify(cfg)}, ${countParams(vars)} params, batch ${BATCH}`);

// ---- training: forward + backward + clip + AdamW per step
const rng = makeRng(1);
const data = Array.from({ length: BATCH }, () => Array.from({ length: cfg.contextLength + 1 }, () => Math.floor(rng.next() * cfg.vocabSize)));
const stepMs: number[] = [];
let last = Date.now();
await train({
  variables: vars, steps: warmup + steps, optimizer: { lr: 3e-4, betas: [0.9, 0.95], weightDecay: 0.1 }, clipNorm: 1,
  batches: () => data,
  loss: (b: number[][]) => lmLoss(p, cfg, tf.tensor2d(b, undefined, "int32")),
  onProgress: (pr) => {
    const now = Date.now();
    if (pr.done > warmup) stepMs.push(now - last);
    process.stderr.write(`  train step ${pr.done}/${warmup + steps}: ${now - last} ms, loss ${pr.loss.toFixed(3)}\n`);
    last = now;
  },
});
const trainTokS = (BATCH * cfg.contextLength) / (median(stepMs) / 1000);

// ---- sampling: 32 sequences x 64 new tokens with the KV cache
const prompts = Array.from({ length: SAMPLE.batch }, () => Array.from({ length: SAMPLE.promptLen }, () => Math.floor(rng.next() * cfg.vocabSize)));
generateIds(p, cfg, prompts, { maxNewTokens: 4, seed: 0 }); // burn-in
const sampleMs: number[] = [];
for (let r = 0; r < SAMPLE.repeats; r++) {
  const t0 = Date.now();
  generateIds(p, cfg, prompts, { maxNewTokens: SAMPLE.newTokens, seed: r, temperature: 1 });
  sampleMs.push(Date.now() - t0);
}
const sampleTokS = (SAMPLE.batch * SAMPLE.newTokens) / (median(sampleMs) / 1000);
disposeParams(vars);
console.log(`acft:    train ${trainTokS.toFixed(0)} tok/s (median of ${stepMs.length} steps), sample ${sampleTokS.toFixed(0)} tok/s (median of ${SAMPLE.repeats})`);

// ---- PyTorch, same architecture and sizes
const torchRun = (): { train_tok_s: number; sample_tok_s: number; blas: string[]; torch: string; threads: number } | string => {
  if (args["no-torch"]) return "skipped (--no-torch)";
  const candidates = [args.python, process.env.ACFT_PYTHON, "python3", "/usr/bin/python3"].filter((x): x is string => !!x);
  const py = candidates.find((c) => spawnSync(c, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
  if (!py) return `skipped: no python with torch among ${candidates.join(", ")} (Debian: apt-get install python3-torch libopenblas0)`;
  const spec = { ...cfg, batch: BATCH, steps, warmup: Math.max(1, warmup), sampleBatch: SAMPLE.batch, newTokens: SAMPLE.newTokens, promptLen: SAMPLE.promptLen, sampleRepeats: SAMPLE.repeats };
  const r = spawnSync(py, [new URL("./torch_ml.py", import.meta.url).pathname, JSON.stringify(spec)], { encoding: "utf8" });
  if (r.status !== 0) return `failed: ${r.stderr.trim().split("\n").pop()}`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
};
const t = torchRun();
if (typeof t === "string") console.log(`pytorch: ${t}`);
else {
  console.log(`pytorch ${t.torch} (${t.threads} threads; ${t.blas.map((b) => b.match(/BLAS_INFO=[^,]*/)?.[0] ?? b).join(" ")}): train ${t.train_tok_s.toFixed(0)} tok/s, sample ${t.sample_tok_s.toFixed(0)} tok/s`);
}
const tt = typeof t === "string" ? null : t;
console.log(JSON.stringify({
  train_tok_s: trainTokS,
  torch_train_tok_s: tt?.train_tok_s ?? null,
  train_ratio: tt ? trainTokS / tt.train_tok_s : null,
  sample_tok_s: sampleTokS,
  torch_sample_tok_s: tt?.sample_tok_s ?? null,
  sample_ratio: tt ? sampleTokS / tt.sample_tok_s : null,
  backend: choice.name,
}));
