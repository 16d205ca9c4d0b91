// A pretrained checkpoint as acft's LM and tokenizer: a Hugging Face model directory (config.json +
// model.safetensors or shards, tokenizer.json) or a .gguf file (Llama architecture, its tokenizer in
// the metadata). One entry point for every stage and test that brings a user's model.
import { existsSync, statSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { ModelFormatError } from "./errors.ts";
import { openGguf } from "./formats/gguf.ts";
import { ggufToHfLlama } from "./formats/ggufLlama.ts";
import { lmFromTensors, readHfDirectory, type HfFamily } from "./formats/hf.ts";
import { archOf, type LMConfig, type LMParams } from "./lm.ts";
import { loadGgufTokenizer } from "./tokenizers/gguf.ts";
import { checkTokenizerFits, loadHfTokenizer } from "./tokenizers/pretrained.ts";
import type { TextTokenizer } from "./tokenizer.ts";

export interface Pretrained {
  readonly config: LMConfig;
  readonly params: LMParams;
  readonly tokenizer: TextTokenizer;
  readonly family: HfFamily;
  /** "hf" (a model directory) or "gguf". */
  readonly format: "hf" | "gguf";
}

/** Load `path` (a Hugging Face model directory or a .gguf file); typed errors name the file, tensor or field. */
export const loadPretrained = async (path: string): Promise<Pretrained> => {
  if (!existsSync(path))
    throw new ModelFormatError({ file: path, message: `${path} does not exist; pass --model a Hugging Face model directory (config.json, model.safetensors, tokenizer.json) or a .gguf file` });
  if (statSync(path).isDirectory()) {
    const ck = await readHfDirectory(path);
    const tokenizer = loadHfTokenizer(path);
    const { config, params, family } = lmFromTensors(ck);
    checkTokenizerFits(tokenizer, config.vocabSize, path);
    return { config, params, tokenizer, family, format: "hf" };
  }
  const f = await openGguf(path);
  try {
    const ck = ggufToHfLlama(f);
    const tokenizer = loadGgufTokenizer(f);
    const tensors = new Map([...ck.tensors].map(([name, t]) => [name, { shape: [...t.shape], data: t.data }]));
    const { config, params, family } = lmFromTensors({ config: { ...ck.config }, tensors, source: path });
    checkTokenizerFits(tokenizer, config.vocabSize, path);
    return { config, params, tokenizer, family, format: "gguf" };
  } finally {
    f.close();
  }
};

/**
 * The model with its context cut to at most `n` tokens: the study's windows, prompts and KV caches are
 * sized by it. RoPE models only change the config; learned positions keep their first `n` rows.
 */
export const limitContext = (config: LMConfig, params: LMParams, n: number): { config: LMConfig; params: LMParams } => {
  if (config.contextLength <= n) return { config, params };
  const limited = { ...config, contextLength: n };
  if (archOf(config).positions !== "learned" || params.wpe === undefined) return { config: limited, params };
  const wpe = tf.variable(tf.tidy(() => params.wpe!.slice([0, 0], [n, config.dModel])), true, params.wpe.name + "-ctx");
  params.wpe.dispose();
  return { config: limited, params: { ...params, wpe } };
};
