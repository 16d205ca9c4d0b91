// The export round trip's fixture, shared by scripts/fixtures/hf_export.ts (which writes the
// committed copy under test/fixtures/hf/export/) and test/ml/hfFormat.test.ts (which rebuilds it
// and compares bytes): load a golden fixture, fine-tune it a few AdamW steps with acft's train loop,
// export it as an HF directory, and record acft's logits of a few unpadded sequences, which
// scripts/fixtures/hf_export_check.py compares with transformers' on the exported directory.
import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { disposeParams, lmForward, lmLoss, lmVariables } from "../../ml/lm.ts";
import { MASKED } from "../../ml/ops.ts";
import { train } from "../../ml/train.ts";
import { exportHfDirectory, loadHfDirectory } from "../../ml/formats/hf.ts";

export const FIX = join("test", "fixtures", "hf");
export const EXPORTED = ["gpt2", "llama", "qwen2"] as const;

/** Fine-tune fixture `name` for 4 steps on its reference batch and export it into `out`. Run on cpu. */
export const fineTuneAndExport = async (name: string, out: string): Promise<void> => {
  const r = JSON.parse(readFileSync(join(FIX, name, "reference.json"), "utf8")) as { ids: number[][]; positions: number[][]; lossMask: number[][]; pads: number[]; prompts: number[][] };
  const { config: c, params: p } = await loadHfDirectory(join(FIX, name));
  try {
    const B = r.ids.length, T = r.ids[0].length - 1;
    await train({
      variables: lmVariables(p), steps: 4, optimizer: { lr: 1e-2 },
      batches: () => r,
      loss: () => lmLoss(p, c, tf.tensor2d(r.ids, undefined, "int32"), tf.tensor2d(r.lossMask), {
        positions: tf.tensor2d(r.positions.map((row) => row.slice(0, T)), undefined, "int32"),
        keyBias: tf.tensor4d(r.pads.flatMap((pad) => Array.from({ length: T }, (_, j) => (j < pad ? MASKED : 0))), [B, 1, 1, T]),
      }),
    });
    await exportHfDirectory(out, p, c);
    const inputs = [...r.ids.map((row, b) => row.slice(r.pads[b])), ...r.prompts];
    const logits = inputs.map((row) => tf.tidy(() => lmForward(p, c, tf.tensor2d([row], undefined, "int32")).logits.arraySync()[0]));
    await mkdir(out, { recursive: true });
    await writeFile(join(out, "acft_logits.json"), JSON.stringify({ inputs, logits }));
  } finally {
    disposeParams(lmVariables(p));
  }
};
