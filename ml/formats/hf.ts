// Hugging Face transformers checkpoints <-> acft's LM (ml/lm.ts).
//
// The conversion works on a neutral structure, `HfCheckpoint`: config.json's fields plus float32
// tensors by their HF names in HF layout. A directory (config.json + model.safetensors, or shards
// listed in model.safetensors.index.json) reads into it, and any other format that can name its
// tensors the HF way (GGUF) can feed the same `lmFromTensors`. Export is the inverse.
//
// Families: GPT-2 (model_type gpt2; Conv1D weights stored [in, out], fused c_attn) and Llama
// (llama, mistral, qwen2; nn.Linear weights stored [out, in], separate q/k/v and gate/up). One
// table per family (`layout`) maps every acft parameter to the HF tensors it is made of; loading
// and export both read it.
import * as tf from "@tensorflow/tfjs";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ModelFormatError } from "../errors.ts";
import { type LMConfig, type LMParams, archOf, lmFromValues, lmShapes, lmVariables, validateConfig } from "../lm.ts";
import { type HostTensor, decodeTensor, readSafetensors, writeSafetensors } from "./safetensors.ts";

export type { HostTensor } from "./safetensors.ts";

/** A checkpoint in HF terms: config.json's fields and float32 tensors by HF name, in HF layout. */
export interface HfCheckpoint {
  config: Record<string, unknown>;
  tensors: Map<string, HostTensor>;
  /** Where it came from (directory or file), for error messages. */
  source: string;
}

export type HfFamily = "gpt2" | "llama";
export const SUPPORTED_MODEL_TYPES = ["gpt2", "llama", "mistral", "qwen2"] as const;

const cut = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}...` : s);

// ---------------------------------------------------------------- config.json -> LMConfig
const fieldError = (file: string, field: string, message: string) =>
  new ModelFormatError({ file, field, message: `${file}: config field "${field}" ${message}` });

const intField = (cfg: Record<string, unknown>, file: string, field: string, fallback?: number): number => {
  const v = cfg[field] ?? fallback;
  if (!(Number.isInteger(v) && (v as number) > 0))
    throw fieldError(file, field, v === undefined ? "is missing; a complete config.json has it" : `must be a positive integer, got ${cut(JSON.stringify(v))}`);
  return v as number;
};
const numField = (cfg: Record<string, unknown>, file: string, field: string, fallback: number): number => {
  const v = cfg[field] ?? fallback;
  if (typeof v !== "number" || !(v > 0)) throw fieldError(file, field, `must be a positive number, got ${cut(JSON.stringify(v))}`);
  return v;
};
const boolField = (cfg: Record<string, unknown>, file: string, field: string, fallback: boolean): boolean => {
  const v = cfg[field] ?? fallback;
  if (typeof v !== "boolean") throw fieldError(file, field, `must be true or false, got ${cut(JSON.stringify(v))}`);
  return v;
};

/** GPT-2 activations that are the tanh form of GELU (acft's `gelu`). */
const TANH_GELU = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"];

/**
 * Map config.json's fields to an LMConfig (dropout 0) and the tensor-name family. `file` names the
 * config in errors. Unsupported architectures and options are ModelFormatErrors naming the field.
 */
export const hfConfigToLM = (cfg: Record<string, unknown>, file: string): { config: LMConfig; family: HfFamily } => {
  const type = cfg.model_type;
  if (!(SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(type))
    throw fieldError(file, "model_type", `is ${cut(JSON.stringify(type))}; acft supports ${SUPPORTED_MODEL_TYPES.join(", ")} (decoder-only GPT-2 and Llama-family language models)`);
  const archs = cfg.architectures;
  if (Array.isArray(archs) && !archs.some((a) => typeof a === "string" && /(ForCausalLM|LMHeadModel)$/.test(a)))
    throw fieldError(file, "architectures", `is ${cut(JSON.stringify(archs))}; acft loads causal language models (*ForCausalLM, GPT2LMHeadModel)`);
  const int = (f: string, d?: number) => intField(cfg, file, f, d);
  if (type === "gpt2") {
    const act = cfg.activation_function ?? "gelu_new";
    if (!TANH_GELU.includes(act as string))
      throw fieldError(file, "activation_function", `is ${cut(JSON.stringify(act))}; acft's GPT-2 uses the tanh GELU (${TANH_GELU.join(", ")})`);
    if (cfg.scale_attn_weights === false || cfg.scale_attn_by_inverse_layer_idx === true || cfg.add_cross_attention === true)
      throw fieldError(file, cfg.scale_attn_weights === false ? "scale_attn_weights" : cfg.add_cross_attention === true ? "add_cross_attention" : "scale_attn_by_inverse_layer_idx",
        "has a non-standard value acft does not implement; only standard GPT-2 attention is supported");
    const C = int("n_embd");
    const M = cfg.n_inner === null || cfg.n_inner === undefined ? 4 * C : int("n_inner");
    const eps = numField(cfg, file, "layer_norm_epsilon", 1e-5);
    const tied = boolField(cfg, file, "tie_word_embeddings", true);
    const config = validateLM({
      vocabSize: int("vocab_size"), contextLength: int("n_positions"), dModel: C, nHeads: int("n_head"), nLayers: int("n_layer"),
      mlpRatio: 4, dropout: 0, ...(M !== 4 * C ? { mlpHidden: M } : {}), ...(eps !== 1e-5 ? { normEps: eps } : {}), ...(tied ? {} : { tiedHead: false }),
    }, file);
    return { config, family: "gpt2" };
  }
  if ((cfg.hidden_act ?? "silu") !== "silu")
    throw fieldError(file, "hidden_act", `is ${cut(JSON.stringify(cfg.hidden_act))}; the Llama family in acft uses SwiGLU with silu`);
  if (cfg.rope_scaling !== undefined && cfg.rope_scaling !== null)
    throw fieldError(file, "rope_scaling", `is set (${cut(JSON.stringify(cfg.rope_scaling))}); acft implements plain RoPE only: use a checkpoint without rope scaling`);
  const rp = cfg.rope_parameters as Record<string, unknown> | undefined | null;
  if (rp && (rp.rope_type ?? "default") !== "default")
    throw fieldError(file, "rope_parameters", `has rope_type ${cut(JSON.stringify(rp.rope_type))}; acft implements plain RoPE ("default") only`);
  if (rp && rp.partial_rotary_factor !== undefined && rp.partial_rotary_factor !== 1)
    throw fieldError(file, "rope_parameters", "has partial_rotary_factor; acft rotates whole heads only");
  const C = int("hidden_size");
  const nh = int("num_attention_heads");
  if (cfg.head_dim !== undefined && cfg.head_dim !== null && cfg.head_dim !== C / nh)
    throw fieldError(file, "head_dim", `is ${cut(JSON.stringify(cfg.head_dim))}, not hidden_size / num_attention_heads = ${C / nh}; acft needs them equal`);
  const ropeTheta = rp && rp.rope_theta !== undefined
    ? numField(rp as Record<string, unknown>, file, "rope_theta", 10000)
    : numField(cfg, file, "rope_theta", 10000);
  let ctx = int("max_position_embeddings");
  // A sliding window W < context: within W tokens the window changes nothing, so cap the context.
  const windowed = type === "mistral" || cfg.use_sliding_window === true;
  if (windowed && typeof cfg.sliding_window === "number" && cfg.sliding_window > 0) ctx = Math.min(ctx, cfg.sliding_window);
  const M = int("intermediate_size");
  const qwen = type === "qwen2";
  const attnBias = qwen ? true : boolField(cfg, file, "attention_bias", false);
  const config = validateLM({
    vocabSize: int("vocab_size"), contextLength: ctx, dModel: C, nHeads: nh, nLayers: int("num_hidden_layers"),
    mlpRatio: M / C, mlpHidden: M, dropout: 0,
    norm: "rmsnorm", normEps: numField(cfg, file, "rms_norm_eps", 1e-6),
    positions: "rope", ropeTheta, mlp: "swiglu", nKVHeads: int("num_key_value_heads", nh),
    qkvBias: attnBias, projBias: qwen ? false : attnBias, mlpBias: qwen ? false : boolField(cfg, file, "mlp_bias", false),
    tiedHead: boolField(cfg, file, "tie_word_embeddings", false),
  }, file);
  return { config, family: "llama" };
};

const validateLM = (c: LMConfig, file: string): LMConfig => {
  try {
    return validateConfig(c);
  } catch (e) {
    throw new ModelFormatError({ file, message: `${file}: the config does not make a valid acft model: ${cut((e as Error).message)}` });
  }
};

/** transformers' config defaults name token ids (GPT-2 50256, Llama 1/2): the exporter's caller sets them. */
const NO_SPECIAL_TOKENS = { bos_token_id: null, eos_token_id: null, pad_token_id: null };

/** The config.json of an LMConfig (inverse of hfConfigToLM) and its family. */
export const lmConfigToHf = (config: LMConfig): { hf: Record<string, unknown>; family: HfFamily } => {
  const c = validateConfig(config);
  const a = archOf(c);
  const gpt2 = a.norm === "layernorm" && a.positions === "learned" && a.mlp === "gelu" && a.nKV === c.nHeads && a.qkvBias && a.projBias && a.mlpBias;
  if (gpt2) return {
    family: "gpt2",
    hf: {
      architectures: ["GPT2LMHeadModel"], model_type: "gpt2", vocab_size: c.vocabSize, n_positions: c.contextLength,
      n_embd: c.dModel, n_layer: c.nLayers, n_head: c.nHeads, n_inner: a.hidden === 4 * c.dModel ? null : a.hidden,
      activation_function: "gelu_new", layer_norm_epsilon: a.eps, tie_word_embeddings: a.tiedHead,
      resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0, scale_attn_weights: true, ...NO_SPECIAL_TOKENS,
    },
  };
  const llama = a.norm === "rmsnorm" && a.positions === "rope" && a.mlp === "swiglu";
  const qwen = llama && a.qkvBias && !a.projBias && !a.mlpBias;
  if (!llama || (!qwen && a.qkvBias !== a.projBias))
    throw new ModelFormatError({ file: "config.json", message: `no Hugging Face architecture matches this config (${cut(JSON.stringify(config))}); acft exports GPT-2 (layernorm, learned, gelu, biases) and Llama/Qwen2 (rmsnorm, rope, swiglu)` });
  return {
    family: "llama",
    hf: {
      architectures: [qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"], model_type: qwen ? "qwen2" : "llama",
      vocab_size: c.vocabSize, max_position_embeddings: c.contextLength, hidden_size: c.dModel, intermediate_size: a.hidden,
      num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, num_key_value_heads: a.nKV, head_dim: a.headSize,
      hidden_act: "silu", rms_norm_eps: a.eps, rope_theta: a.ropeTheta, rope_scaling: null, tie_word_embeddings: a.tiedHead,
      attention_dropout: 0, ...NO_SPECIAL_TOKENS,
      ...(qwen ? { use_sliding_window: false, sliding_window: null } : { attention_bias: a.qkvBias, mlp_bias: a.mlpBias }),
    },
  };
};

// ---------------------------------------------------------------- tensor layout
/**
 * How an acft parameter is made of HF tensors. `same`: one tensor, same shape. `vector`: 1-D
 * pieces concatenated. `cols`: 2-D pieces stored [in, width_i] (GPT-2 Conv1D) concatenated along
 * the columns. `colsT`: pieces stored [width_i, in] (nn.Linear), transposed, then concatenated.
 */
interface Slot { param: string; kind: "same" | "vector" | "cols" | "colsT"; pieces: { hf: string; width: number }[] }

const layout = (config: LMConfig, family: HfFamily): Slot[] => {
  const c = config;
  const a = archOf(c);
  const C = c.dModel, M = a.hidden;
  const q = c.nHeads * a.headSize, kv = a.nKV * a.headSize;
  const slots: Slot[] = [];
  const add = (param: string, kind: Slot["kind"], ...pieces: [string, number][]) =>
    slots.push({ param, kind, pieces: pieces.map(([hf, width]) => ({ hf, width })) });
  if (family === "gpt2") {
    const t = "transformer.";
    add("wte", "same", [`${t}wte.weight`, C]);
    add("wpe", "same", [`${t}wpe.weight`, C]);
    for (let l = 0; l < c.nLayers; l++) {
      const h = `${t}h.${l}.`;
      add(`h${l}.ln1G`, "vector", [`${h}ln_1.weight`, C]); add(`h${l}.ln1B`, "vector", [`${h}ln_1.bias`, C]);
      add(`h${l}.attnW`, "cols", [`${h}attn.c_attn.weight`, 3 * C]); add(`h${l}.attnB`, "vector", [`${h}attn.c_attn.bias`, 3 * C]);
      add(`h${l}.projW`, "cols", [`${h}attn.c_proj.weight`, C]); add(`h${l}.projB`, "vector", [`${h}attn.c_proj.bias`, C]);
      add(`h${l}.ln2G`, "vector", [`${h}ln_2.weight`, C]); add(`h${l}.ln2B`, "vector", [`${h}ln_2.bias`, C]);
      add(`h${l}.fcW`, "cols", [`${h}mlp.c_fc.weight`, M]); add(`h${l}.fcB`, "vector", [`${h}mlp.c_fc.bias`, M]);
      add(`h${l}.fc2W`, "cols", [`${h}mlp.c_proj.weight`, C]); add(`h${l}.fc2B`, "vector", [`${h}mlp.c_proj.bias`, C]);
    }
    add("lnfG", "vector", [`${t}ln_f.weight`, C]); add("lnfB", "vector", [`${t}ln_f.bias`, C]);
  } else {
    add("wte", "same", ["model.embed_tokens.weight", C]);
    for (let l = 0; l < c.nLayers; l++) {
      const h = `model.layers.${l}.`;
      const s = `${h}self_attn.`;
      add(`h${l}.ln1G`, "vector", [`${h}input_layernorm.weight`, C]);
      add(`h${l}.attnW`, "colsT", [`${s}q_proj.weight`, q], [`${s}k_proj.weight`, kv], [`${s}v_proj.weight`, kv]);
      if (a.qkvBias) add(`h${l}.attnB`, "vector", [`${s}q_proj.bias`, q], [`${s}k_proj.bias`, kv], [`${s}v_proj.bias`, kv]);
      add(`h${l}.projW`, "colsT", [`${s}o_proj.weight`, C]);
      if (a.projBias) add(`h${l}.projB`, "vector", [`${s}o_proj.bias`, C]);
      add(`h${l}.ln2G`, "vector", [`${h}post_attention_layernorm.weight`, C]);
      add(`h${l}.fcW`, "colsT", [`${h}mlp.gate_proj.weight`, M], [`${h}mlp.up_proj.weight`, M]);
      if (a.mlpBias) add(`h${l}.fcB`, "vector", [`${h}mlp.gate_proj.bias`, M], [`${h}mlp.up_proj.bias`, M]);
      add(`h${l}.fc2W`, "colsT", [`${h}mlp.down_proj.weight`, C]);
      if (a.mlpBias) add(`h${l}.fc2B`, "vector", [`${h}mlp.down_proj.bias`, C]);
    }
    add("lnfG", "vector", ["model.norm.weight", C]);
  }
  if (!a.tiedHead) add("wout", "same", ["lm_head.weight", C]);
  return slots;
};

/** One HF linear module inside an acft block weight: its module path, and its columns in the weight. */
export interface LinearModule {
  /** The transformers module path, e.g. "model.layers.0.self_attn.q_proj" or "transformer.h.0.attn.c_attn". */
  module: string;
  layer: number;
  /** The acft block weight it is part of ((in, out) layout). */
  site: "attnW" | "projW" | "fcW" | "fc2W";
  /** Its output columns [col0, col0 + width) of that weight, and the weight's input width. */
  col0: number; width: number; inFeatures: number;
}

/**
 * Every linear projection of the blocks by its transformers module path, in the family the config
 * exports as (lmConfigToHf): GPT-2's c_attn / attn.c_proj / c_fc / mlp.c_proj, Llama's q/k/v/o and
 * gate/up/down projections. Read from the same table as loading and export (`layout`).
 */
export const linearModules = (config: LMConfig): LinearModule[] => {
  const { family } = lmConfigToHf(config);
  const shapes = lmShapes(config);
  const out: LinearModule[] = [];
  for (const slot of layout(config, family)) {
    const m = /^h(\d+)\.(attnW|projW|fcW|fc2W)$/.exec(slot.param);
    if (!m) continue;
    let col0 = 0;
    for (const { hf, width } of slot.pieces) {
      out.push({ module: hf.replace(/\.weight$/, ""), layer: Number(m[1]), site: m[2] as LinearModule["site"], col0, width, inFeatures: shapes[slot.param][0] });
      col0 += width;
    }
  }
  return out;
};

/** HF tensors that hold no parameter (attention-mask and rotary buffers of older checkpoints). */
const IGNORED = /(^|\.)attn\.(masked_)?bias$|rotary_emb\.inv_freq$/;

/** GPT-2 checkpoints exist with and without the "transformer." prefix: look up both. */
const lookup = (tensors: Map<string, HostTensor>, name: string): [string, HostTensor] | undefined => {
  const t = tensors.get(name);
  if (t) return [name, t];
  if (name.startsWith("transformer.")) {
    const short = name.slice("transformer.".length);
    const u = tensors.get(short);
    if (u) return [short, u];
  }
  return undefined;
};

/**
 * Convert HF tensors to acft parameter values by lmVariables name (float32, acft layout), checking
 * that every tensor is present with its expected shape and that none is left over.
 */
export const hfToValues = (ck: HfCheckpoint): { config: LMConfig; family: HfFamily; values: Record<string, HostTensor> } => {
  const { config, family } = hfConfigToLM(ck.config, join(ck.source, "config.json"));
  const shapes = lmShapes(config);
  const used = new Set<string>();
  const values: Record<string, HostTensor> = {};
  for (const slot of layout(config, family)) {
    const want = shapes[slot.param];
    const parts = slot.pieces.map(({ hf, width }) => {
      const found = lookup(ck.tensors, hf);
      if (!found)
        throw new ModelFormatError({ file: ck.source, tensor: hf, message: `${ck.source}: tensor "${hf}" is missing (needed for ${slot.param}); the checkpoint is incomplete or its config.json does not describe it` });
      const [name, t] = found;
      used.add(name);
      const expected = slot.kind === "same" ? want : slot.kind === "vector" ? [width] : slot.kind === "cols" ? [want[0], width] : [width, want[0]];
      if (t.shape.join(",") !== expected.join(","))
        throw new ModelFormatError({ file: ck.source, tensor: name, message: `${ck.source}: tensor "${name}" has shape [${t.shape}], but config.json implies [${expected}]; the config and the weights do not belong together` });
      return t;
    });
    values[slot.param] = { shape: want, data: assemble(slot, parts, want) };
  }
  for (const [name, t] of ck.tensors) {
    if (used.has(name) || IGNORED.test(name)) continue;
    if (name === "lm_head.weight" && archOf(config).tiedHead) {
      const wte = values.wte.data;
      if (t.data.length === wte.length && t.data.every((x, i) => x === wte[i])) continue;
      throw new ModelFormatError({ file: ck.source, tensor: name, message: `${ck.source}: "lm_head.weight" differs from the token embedding although config.json says tie_word_embeddings; set "tie_word_embeddings": false` });
    }
    throw new ModelFormatError({ file: ck.source, tensor: name, message: `${ck.source}: unexpected tensor "${cut(name)}"; acft's ${family} model has no such parameter (an unsupported architecture variant?)` });
  }
  return { config, family, values };
};

/** Pieces in HF layout -> one acft value of shape `want`. */
const assemble = (slot: Slot, parts: HostTensor[], want: number[]): Float32Array => {
  if (slot.kind === "same") return parts[0].data;
  if (slot.kind === "vector") {
    if (parts.length === 1) return parts[0].data;
    const out = new Float32Array(want[0]);
    let at = 0;
    for (const p of parts) { out.set(p.data, at); at += p.data.length; }
    return out;
  }
  const [rows, cols] = want;
  if (slot.kind === "cols" && parts.length === 1) return parts[0].data;
  const out = new Float32Array(rows * cols);
  let c0 = 0;
  slot.pieces.forEach(({ width }, i) => {
    const d = parts[i].data;
    if (slot.kind === "cols") for (let r = 0; r < rows; r++) out.set(d.subarray(r * width, (r + 1) * width), r * cols + c0);
    else for (let w = 0; w < width; w++) for (let r = 0; r < rows; r++) out[r * cols + c0 + w] = d[w * rows + r];
    c0 += width;
  });
  return out;
};

/** One acft value -> its HF pieces (inverse of assemble). */
const disassemble = (slot: Slot, data: Float32Array, shape: number[]): [string, HostTensor][] => {
  if (slot.kind === "same") return [[slot.pieces[0].hf, { shape, data }]];
  const out: [string, HostTensor][] = [];
  let c0 = 0;
  for (const { hf, width } of slot.pieces) {
    if (slot.kind === "vector") out.push([hf, { shape: [width], data: data.slice(c0, c0 + width) }]);
    else {
      const [rows, cols] = shape;
      const piece = new Float32Array(rows * width);
      if (slot.kind === "cols") for (let r = 0; r < rows; r++) piece.set(data.subarray(r * cols + c0, r * cols + c0 + width), r * width);
      else for (let w = 0; w < width; w++) for (let r = 0; r < rows; r++) piece[w * rows + r] = data[r * cols + c0 + w];
      out.push([hf, { shape: slot.kind === "cols" ? [rows, width] : [width, rows], data: piece }]);
    }
    c0 += width;
  }
  return out;
};

// ---------------------------------------------------------------- load / export
/** Build an LM (fresh tf.Variables) from an HF checkpoint. */
export const lmFromTensors = (ck: HfCheckpoint): { config: LMConfig; params: LMParams; family: HfFamily } => {
  const { config, family, values } = hfToValues(ck);
  const tensors = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, tf.tensor(v.data, v.shape, "float32")]));
  try {
    return { config, family, params: lmFromValues(config, tensors) };
  } finally {
    tf.dispose(Object.values(tensors));
  }
};

/** An LM as an HF checkpoint: config.json fields (plus `extraConfig`) and tensors by HF name. */
export const lmToTensors = (p: LMParams, config: LMConfig, extraConfig: Record<string, unknown> = {}): { config: Record<string, unknown>; tensors: Map<string, HostTensor> } => {
  const { hf, family } = lmConfigToHf(config);
  const vars = lmVariables(p);
  const tensors = new Map<string, HostTensor>();
  for (const slot of layout(config, family)) {
    const v = vars[slot.param];
    if (!v) throw new ModelFormatError({ file: "model.safetensors", tensor: slot.param, message: `the model has no parameter "${slot.param}" although its config needs it` });
    for (const [name, t] of disassemble(slot, v.dataSync() as Float32Array, v.shape)) tensors.set(name, t);
  }
  return { config: { ...hf, ...extraConfig }, tensors };
};

const readJson = async (file: string): Promise<unknown> => {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ModelFormatError({ file, message: `${file} is missing; a Hugging Face model directory holds config.json and model.safetensors (or its shards)` });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError({ file, message: `${file} is not valid JSON (${cut((e as Error).message)}); re-download it` });
  }
};

/**
 * Read an HF model directory into an HfCheckpoint: config.json and model.safetensors, or the
 * shards listed by model.safetensors.index.json. Tensors decode to float32 (F32, F16, BF16, F64).
 */
export const readHfDirectory = async (dir: string): Promise<HfCheckpoint> => {
  const config = (await readJson(join(dir, "config.json"))) as Record<string, unknown>;
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new ModelFormatError({ file: join(dir, "config.json"), message: `${join(dir, "config.json")} is not a JSON object` });
  const tensors = new Map<string, HostTensor>();
  const take = async (file: string, only?: Set<string>) => {
    for (const [name, raw] of await readSafetensors(file)) {
      if (IGNORED.test(name) || (only && !only.has(name))) continue;
      tensors.set(name, decodeTensor(raw, name, file));
    }
  };
  const single = join(dir, "model.safetensors");
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(single)) await take(single);
  else if (existsSync(index)) {
    const map = ((await readJson(index)) as { weight_map?: Record<string, string> }).weight_map;
    if (!map || typeof map !== "object")
      throw new ModelFormatError({ file: index, field: "weight_map", message: `${index} has no "weight_map" object; re-download the index` });
    const byFile = new Map<string, Set<string>>();
    for (const [name, file] of Object.entries(map)) {
      if (typeof file !== "string" || file.includes("/") || file.includes("\\"))
        throw new ModelFormatError({ file: index, tensor: name, message: `${index}: tensor "${cut(name)}" maps to ${cut(JSON.stringify(file))}, not a file name in the directory` });
      byFile.set(file, (byFile.get(file) ?? new Set()).add(name));
    }
    for (const [file, names] of byFile) await take(join(dir, file), names);
    for (const name of Object.keys(map))
      if (!IGNORED.test(name) && !tensors.has(name))
        throw new ModelFormatError({ file: join(dir, map[name]), tensor: name, message: `${join(dir, map[name])} lacks tensor "${cut(name)}" that ${index} lists; a shard is incomplete: re-download it` });
  } else {
    const bin = existsSync(join(dir, "pytorch_model.bin")) ? " (pytorch_model.bin is not read: convert it to safetensors, e.g. save_pretrained(dir, safe_serialization=True))" : "";
    throw new ModelFormatError({ file: dir, message: `${dir} has neither model.safetensors nor model.safetensors.index.json${bin}` });
  }
  return { config, tensors, source: dir };
};

/** Load an HF model directory as an acft LM. Also returns config.json's fields (token ids, ...). */
export const loadHfDirectory = async (dir: string): Promise<{ config: LMConfig; params: LMParams; family: HfFamily; hfConfig: Record<string, unknown> }> => {
  const ck = await readHfDirectory(dir);
  return { ...lmFromTensors(ck), hfConfig: ck.config };
};

/**
 * Write an LM as an HF model directory: config.json (+ `extraConfig`, e.g. bos/eos token ids) and
 * model.safetensors (F32). A tied head is not stored, as transformers' save_pretrained does.
 */
export const exportHfDirectory = async (dir: string, p: LMParams, config: LMConfig, extraConfig: Record<string, unknown> = {}): Promise<void> => {
  const ck = lmToTensors(p, config, extraConfig);
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, "model.safetensors"), ck.tensors, { format: "pt" });
  await writeFile(join(dir, "config.json.tmp"), `${JSON.stringify(ck.config, null, 2)}\n`);
  await rename(join(dir, "config.json.tmp"), join(dir, "config.json"));
};
