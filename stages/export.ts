// Exporting a model directory of the study (any plain LM instance: the base, SFT, RL, Ours, …) as a
// Hugging Face model directory: config.json + model.safetensors (ml/formats/hf.ts) + the tokenizer's
// files. `transformers` loads it with AutoModelForCausalLM.from_pretrained(dir).
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { exportHfDirectory } from "../ml/formats/hf.ts";
import { writeTokenizer, loadModel } from "./models.ts";
import { StageInputError } from "./common.ts";

export const exportHf = async (modelDir: string, outDir: string): Promise<{ files: string[] }> => {
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new StageInputError({ stage: "export", message: `${outDir} is not empty; export into a new or empty directory` });
  const m = await loadModel(modelDir);
  try {
    mkdirSync(outDir, { recursive: true });
    const special = { bos_token_id: m.tokenizer.bos, eos_token_id: m.tokenizer.eos, pad_token_id: m.tokenizer.pad };
    await exportHfDirectory(outDir, m.params, m.config, special);
    writeTokenizer(outDir, m.tokenizer);
    return { files: readdirSync(outDir).sort() };
  } finally {
    m.dispose();
  }
};
