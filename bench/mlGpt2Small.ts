// npm run bench:ml -- --config gpt2-small [--backend fast --steps 2 --warmup 1 --batch 2 --rank 8 --targets c_attn]
// Full vs LoRA fine-tuning of a model of the GPT-2-small shape (vocab 50257, context 256, d_model 768,
// 12 layers, 12 heads: 124 M parameters). Random weights are written as a Hugging Face directory in
// a temp dir (deleted after); each mode then runs in a fresh process that loads that directory,
// fine-tunes `warmup + steps` steps with finetuneLM (batch × 256 tokens) and reports train tok/s
// (median step after warmup) and its peak RSS (VmHWM; Linux). The LoRA process also merges the
// adapter and measures KV-cached sampling. Ends with one JSON line.
import * as tf from "@tensorflow/tfjs";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../ml/backend.ts";
import { finetuneLM } from "../ml/finetune.ts";
import { exportHfDirectory, loadHfDirectory } from "../ml/formats/hf.ts";
import { generateIds } from "../ml/generate.ts";
import { type LMConfig, countParams, disposeParams, initLM, lmVariables } from "../ml/lm.ts";
import { disposeLora, initLora, loraVariables, mergeLora } from "../ml/lora.ts";
import { makeRng } from "../ml/prng.ts";

export const GPT2_SMALL: LMConfig = { vocabSize: 50257, contextLength: 256, dModel: 768, nHeads: 12, nLayers: 12, mlpRatio: 4, dropout: 0 };

export interface Gpt2SmallArgs { backend: string; steps: number; warmup: number; batch: number; rank: number; targets: string; child?: string; dir?: string }

interface ModeResult { mode: string; trainTokS: number; stepMs: number[]; trainedParams: number; loadedMiB: number; peakMiB: number; sampleTokS?: number; backend: string }

/** This process's peak RSS in MiB (VmHWM, Linux). */
const peakMiB = (): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One mode in this (fresh) process: load, fine-tune, measure. */
const runMode = async (a: Gpt2SmallArgs): Promise<ModeResult> => {
  const choice = await initBackend(a.backend);
  const { config: c, params: p } = await loadHfDirectory(a.dir!);
  const loadedMiB = peakMiB();
  const rng = makeRng(1);
  const data = Array.from({ length: 4 * a.batch }, () => ({
    ids: Array.from({ length: c.contextLength + 1 }, () => Math.floor(rng.next() * c.vocabSize)), targetFrom: 1, regularise: false,
  }));
  const lora = a.child === "lora" ? initLora(c, { rank: a.rank, alpha: 2 * a.rank, dropout: 0, targetModules: a.targets === "all-linear" ? a.targets : a.targets.split(",") }, 1) : undefined;
  const stepMs: number[] = [];
  let last = Date.now();
  await finetuneLM({
    params: p, config: c, data, pad: 0, seed: 1, lora,
    steps: a.warmup + a.steps, batchSize: a.batch, lr: 1e-4, warmup: 0, weightDecay: 0, clipNorm: 1,
    onProgress: (pr) => {
      const now = Date.now();
      if (pr.done > a.warmup) stepMs.push(now - last);
      process.stderr.write(`  ${a.child} step ${pr.done}/${a.warmup + a.steps}: ${now - last} ms, loss ${pr.loss.toFixed(3)}, peak RSS ${peakMiB().toFixed(0)} MiB\n`);
      last = now;
    },
  });
  const trainedParams = countParams(lora ? loraVariables(lora) : lmVariables(p));
  const result: ModeResult = { mode: a.child!, trainTokS: (a.batch * c.contextLength) / (median(stepMs) / 1000), stepMs, trainedParams, loadedMiB, peakMiB: peakMiB(), backend: choice.name };
  if (lora) {
    mergeLora(p, lora);
    disposeLora(lora);
    const prompts = Array.from({ length: 4 }, () => Array.from({ length: 8 }, () => Math.floor(rng.next() * c.vocabSize)));
    generateIds(p, c, prompts, { maxNewTokens: 2, seed: 0 }); // burn-in
    const t0 = Date.now();
    generateIds(p, c, prompts, { maxNewTokens: 32, seed: 1, temperature: 1 });
    result.sampleTokS = (4 * 32) / ((Date.now() - t0) / 1000);
  }
  disposeParams(lmVariables(p));
  return result;
};

export const runGpt2Small = async (a: Gpt2SmallArgs): Promise<void> => {
  if (a.child) {
    console.log(JSON.stringify(await runMode(a)));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "acft-bench-gpt2small-"));
  try {
    await tf.setBackend("cpu");
    const t0 = Date.now();
    const p = initLM(GPT2_SMALL, 0);
    const n = countParams(lmVariables(p));
    await exportHfDirectory(dir, p, GPT2_SMALL);
    disposeParams(lmVariables(p));
    console.log(`gpt2-small: ${(n / 1e6).toFixed(1)} M params, random HF directory written in ${((Date.now() - t0) / 1000).toFixed(1)} s; batch ${a.batch} x ${GPT2_SMALL.contextLength} tokens, ${a.warmup} warmup + ${a.steps} timed steps; LoRA r ${a.rank} on ${a.targets}`);
    const results: ModeResult[] = [];
    for (const mode of ["full", "lora"]) {
      const argv = [new URL("./ml.ts", import.meta.url).pathname, "--config", "gpt2-small", "--child", mode, "--dir", dir, "--backend", a.backend,
        "--steps", String(a.steps), "--warmup", String(a.warmup), "--batch", String(a.batch), "--rank", String(a.rank), "--targets", a.targets];
      const r = spawnSync(process.execPath, ["--import", "tsx", ...argv], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      if (r.status !== 0) throw new Error(`the ${mode} run failed (exit ${r.status})`);
      const res = JSON.parse(r.stdout.trim().split("\n").pop()!) as ModeResult;
      results.push(res);
      console.log(`${mode.padEnd(4)} (${res.backend}): train ${res.trainTokS.toFixed(0)} tok/s (steps ${res.stepMs.join(", ")} ms), ${(res.trainedParams / 1e6).toFixed(3)} M trained params, peak RSS ${res.peakMiB.toFixed(0)} MiB (${res.loadedMiB.toFixed(0)} MiB after loading)${res.sampleTokS ? `, merged model samples ${res.sampleTokS.toFixed(0)} tok/s` : ""}`);
    }
    const [full, lora] = results;
    console.log(JSON.stringify({
      config: "gpt2-small", backend: full.backend, full_train_tok_s: full.trainTokS, lora_train_tok_s: lora.trainTokS,
      full_peak_rss_mib: full.peakMiB, lora_peak_rss_mib: lora.peakMiB, loaded_rss_mib: full.loadedMiB,
      lora_trained_params: lora.trainedParams, sample_tok_s: lora.sampleTokS ?? null,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
