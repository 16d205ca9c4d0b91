// LoRA on the GPT-2-small shape trains in bounded memory: runs the benchmark's full and LoRA
// fine-tuning processes (bench/mlGpt2Small.ts: random 124 M-parameter HF directory, fresh process per
// mode, peak RSS from VmHWM) and requires LoRA to save at least the AdamW moments of every weight
// (2 × 4 bytes per parameter) and to train faster. Opt-in (~3 min): ACFT_SLOW=1 npm test -- test/ml/loraLarge
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { skipReason } from "../fast/helpers.ts";

const slow = process.env.ACFT_SLOW === "1" ? undefined : "opt-in: set ACFT_SLOW=1";
const skip = slow ?? (process.platform !== "linux" ? "reads /proc/self/status (Linux)" : undefined);

test("GPT-2-small shape: LoRA fine-tuning holds no optimizer state for the base and trains faster than full", skip ? { skip } : {}, () => {
  const backend = skipReason() ? "cpu" : "fast";
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/ml.ts", "--config", "gpt2-small", "--backend", backend, "--steps", "1", "--warmup", "1", "--batch", "2"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  assert.equal(r.status, 0);
  const m = JSON.parse(r.stdout.trim().split("\n").pop()!);
  console.log(`# ${JSON.stringify(m)}`);
  const modelMiB = (4 * 123_849_984) / 2 ** 20; // GPT-2-small with a 256-token context, F32
  const fullGrowth = m.full_peak_rss_mib - m.loaded_rss_mib;
  const loraGrowth = m.lora_peak_rss_mib - m.loaded_rss_mib;
  assert.ok(fullGrowth > 2 * modelMiB, `full fine-tuning grew by ${fullGrowth} MiB (it holds gradients and two moments per weight)`);
  assert.ok(loraGrowth < fullGrowth - 2 * modelMiB, `LoRA grew by ${loraGrowth} MiB vs full ${fullGrowth} MiB`);
  assert.ok(m.lora_trained_params < 1e6);
  assert.ok(m.lora_train_tok_s > m.full_train_tok_s, `LoRA ${m.lora_train_tok_s} vs full ${m.full_train_tok_s} tok/s`);
});
