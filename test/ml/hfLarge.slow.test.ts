// The GPT-2-small shape (vocab 50257, context 256, d 768, 12 layers, 12 heads: 124 M parameters)
// loads from an HF-format directory in reasonable time and memory. The directory is generated
// here (random F32 weights under transformers' GPT2LMHeadModel names, written independently of the
// loader's table) in a temp dir and deleted after. Opt-in: ACFT_SLOW=1 npm test -- test/ml/hfLarge
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { countParams, disposeParams, lmForward, lmVariables } from "../../ml/lm.ts";
import { generateIds } from "../../ml/generate.ts";
import { loadHfDirectory } from "../../ml/formats/hf.ts";
import { type HostTensor, writeSafetensors } from "../../ml/formats/safetensors.ts";
import { onBackend, setup, skipReason } from "../fast/helpers.ts";
import { FAST_BACKEND } from "../../ml/fast/index.ts";

const V = 50257, T = 256, C = 768, L = 12, H = 12;
await setup();
await tf.setBackend("cpu");

/** Uniform(-a, a) values from a small LCG: cheap for 124 M numbers. */
const fill = (shape: number[], a: number, seed: number): HostTensor => {
  const n = shape.reduce((x, y) => x * y, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 2 * a;
  }
  return { shape, data };
};

test("GPT-2-small shape: an HF directory loads in bounded time and memory, and runs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "acft-gpt2small-"));
  try {
    const t: [string, HostTensor][] = [["transformer.wte.weight", fill([V, C], 0.05, 1)], ["transformer.wpe.weight", fill([T, C], 0.02, 2)]];
    for (let l = 0; l < L; l++) {
      const h = `transformer.h.${l}.`;
      t.push([`${h}ln_1.weight`, fill([C], 0.1, 10 + l)], [`${h}ln_1.bias`, fill([C], 0.1, 30 + l)],
        [`${h}attn.c_attn.weight`, fill([C, 3 * C], 0.05, 50 + l)], [`${h}attn.c_attn.bias`, fill([3 * C], 0.02, 70 + l)],
        [`${h}attn.c_proj.weight`, fill([C, C], 0.02, 90 + l)], [`${h}attn.c_proj.bias`, fill([C], 0.02, 110 + l)],
        [`${h}ln_2.weight`, fill([C], 0.1, 130 + l)], [`${h}ln_2.bias`, fill([C], 0.1, 150 + l)],
        [`${h}mlp.c_fc.weight`, fill([C, 4 * C], 0.05, 170 + l)], [`${h}mlp.c_fc.bias`, fill([4 * C], 0.02, 190 + l)],
        [`${h}mlp.c_proj.weight`, fill([4 * C, C], 0.02, 210 + l)], [`${h}mlp.c_proj.bias`, fill([C], 0.02, 230 + l)]);
    }
    t.push(["transformer.ln_f.weight", fill([C], 0.1, 250)], ["transformer.ln_f.bias", fill([C], 0.1, 251)]);
    await writeSafetensors(join(dir, "model.safetensors"), new Map(t));
    writeFileSync(join(dir, "config.json"), JSON.stringify({
      architectures: ["GPT2LMHeadModel"], model_type: "gpt2", vocab_size: V, n_positions: T, n_embd: C, n_layer: L, n_head: H,
      n_inner: null, activation_function: "gelu_new", layer_norm_epsilon: 1e-5, tie_word_embeddings: true,
    }));
    t.length = 0;
    // Load once in a fresh process, for its peak RSS alone (this one holds the generator's buffers).
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", `
      import * as tf from "@tensorflow/tfjs";
      import { readFileSync } from "node:fs";
      // the peak RSS of this process image (VmHWM; ru_maxrss would carry the parent's over exec)
      const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
      import { loadHfDirectory } from ${JSON.stringify(join(process.cwd(), "ml/formats/hf.ts"))};
      await tf.setBackend("cpu");
      const base = hwm();
      const t0 = performance.now();
      await loadHfDirectory(${JSON.stringify(dir)});
      console.log(JSON.stringify({ ms: performance.now() - t0, baseKiB: base, peakKiB: hwm() }));
    `], { encoding: "utf8" });
    assert.equal(child.status, 0, child.stderr);
    const m = JSON.parse(child.stdout.trim().split("\n").pop()!) as { ms: number; baseKiB: number; peakKiB: number };
    const { config, params } = await loadHfDirectory(dir);
    const n = countParams(lmVariables(params));
    const fileMiB = (4 * n) / 2 ** 20;
    const grownMiB = (m.peakKiB - m.baseKiB) / 1024;
    console.log(`# GPT-2-small: ${(n / 1e6).toFixed(1)} M params (${fileMiB.toFixed(0)} MiB F32) loaded in ${(m.ms / 1000).toFixed(1)} s; peak RSS ${(m.peakKiB / 1024).toFixed(0)} MiB, ${grownMiB.toFixed(0)} MiB above the process before loading`);
    assert.equal(n, 124_439_808 - (1024 - T) * C, "GPT-2 small's parameter count with a 256-token context");
    assert.ok(m.ms < 60_000, `load took ${m.ms} ms`);
    assert.ok(grownMiB < 2.5 * fileMiB, `loading grew the peak RSS by ${grownMiB.toFixed(0)} MiB for a ${fileMiB.toFixed(0)} MiB model`);
    const backend = skipReason() ? "cpu" : FAST_BACKEND;
    await onBackend(backend, () => {
      const t1 = performance.now();
      const logits = tf.tidy(() => lmForward(params, config, tf.tensor2d([[464, 2068, 7586, 21831]], undefined, "int32")).logits.dataSync());
      assert.ok(logits.every(Number.isFinite));
      const out = generateIds(params, config, [[464, 2068]], { maxNewTokens: 4, temperature: 0 });
      assert.equal(out[0].length, 4);
      console.log(`# forward of 4 tokens + 4 greedy KV-cached tokens on ${backend}: ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    });
    disposeParams(lmVariables(params));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
