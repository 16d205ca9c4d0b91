// The PEFT export's fixture, shared by scripts/fixtures/peft_export.ts (which writes the committed
// copy under test/fixtures/hf/peft/export/) and test/ml/peft.test.ts (which rebuilds it and compares
// bytes): on a golden base model, train a LoRA adapter a few steps with finetuneLM, write it in PEFT's
// format, and record acft's logits of the adapted model, which scripts/fixtures/peft_lora_check.py
// compares with PEFT's on the written adapter.
import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { finetuneLM } from "../../ml/finetune.ts";
import { loadHfDirectory } from "../../ml/formats/hf.ts";
import { writePeftAdapter } from "../../ml/formats/peft.ts";
import { disposeParams, lmForward, lmVariables } from "../../ml/lm.ts";
import { type LoraSettings, disposeLora, initLora, loraAdapter } from "../../ml/lora.ts";

export const FIX = join("test", "fixtures", "hf");
/** Targets the PEFT-made fixtures do not use: GPT-2's MLP output only; Llama's k and up (fused columns). */
export const PEFT_EXPORTED: Record<"gpt2" | "llama", LoraSettings> = {
  gpt2: { rank: 2, alpha: 4, dropout: 0, targetModules: ["c_attn", "mlp.c_proj"] },
  llama: { rank: 2, alpha: 3, dropout: 0, targetModules: ["k_proj", "up_proj", "o_proj"] },
};

/** Train an adapter on fixture `name` for 4 steps on its reference rows and write it into `out`. Run on cpu. */
export const trainAndExportAdapter = async (name: keyof typeof PEFT_EXPORTED, out: string): Promise<void> => {
  const r = JSON.parse(readFileSync(join(FIX, name, "reference.json"), "utf8")) as { ids: number[][]; pads: number[]; prompts: number[][] };
  const base = join(FIX, name);
  const { config: c, params: p } = await loadHfDirectory(base);
  const lora = initLora(c, PEFT_EXPORTED[name], 1);
  try {
    const rows = r.ids.map((row, b) => row.slice(r.pads[b]));
    await finetuneLM({
      params: p, config: c, data: rows.map((ids) => ({ ids, targetFrom: 1, regularise: false })), pad: 0, seed: 1, lora,
      steps: 4, batchSize: 3, lr: 5e-2, warmup: 0, weightDecay: 0, clipNorm: 1,
    });
    await writePeftAdapter(out, lora, c, { base_model_name_or_path: base });
    const inputs = [...rows, ...r.prompts];
    const logits = inputs.map((row) => tf.tidy(() => lmForward(p, c, tf.tensor2d([row], undefined, "int32"), { adapter: loraAdapter(lora) }).logits.arraySync()[0]));
    await mkdir(out, { recursive: true });
    await writeFile(join(out, "acft_logits.json"), JSON.stringify({ inputs, logits }));
  } finally {
    disposeLora(lora);
    disposeParams(lmVariables(p));
  }
};
