// A GGUF Llama checkpoint as a Hugging Face Llama checkpoint: metadata -> config.json fields, and
// GGUF tensor names -> Hugging Face names, every matrix in Hugging Face's row-major [out, in]
// layout (the bytes GGUF stores for ne = [in, out]).
//
// RoPE layout. llama.cpp rotates interleaved pairs (x[2i], x[2i+1]) of each head; Hugging Face
// Llama rotates halves (x[i], x[i + d/2]). llama.cpp's converter therefore permutes the rows of
// q_proj and k_proj within each head: HF row j·(d/2) + i becomes GGUF row 2i + j (j ∈ {0, 1},
// i < d/2). We undo it, as transformers' GGUF loader does, so a loaded model uses rotate-half RoPE
// everywhere: GGUF row h·d + 2i + j -> HF row h·d + j·(d/2) + i, with heads = attention.head_count
// for q and attention.head_count_kv for k (biases, when present, move the same way).
import { ModelFormatError } from "../errors.ts";
import { quote } from "./errors.ts";
import { type GgufFile, openGguf } from "./gguf.ts";

/** Hugging Face `config.json` fields of a Llama model, as read from GGUF metadata. */
export interface HfLlamaConfig {
  model_type: "llama";
  architectures: ["LlamaForCausalLM"];
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  intermediate_size: number;
  max_position_embeddings: number;
  rope_theta: number;
  rms_norm_eps: number;
  hidden_act: "silu";
  /** True when the file has no `output.weight` (the head reuses `token_embd.weight`). */
  tie_word_embeddings: boolean;
  attention_bias: boolean;
  bos_token_id?: number;
  eos_token_id?: number;
  pad_token_id?: number;
}

export interface HfTensor { readonly shape: readonly number[]; readonly data: Float32Array }
export interface HfCheckpoint { config: HfLlamaConfig; tensors: Map<string, HfTensor> }

const NO_ID = 0xffffffff; // llama.cpp writes this for "no such token"

/** The config of a GGUF file whose `general.architecture` is "llama". */
export const ggufLlamaConfig = (f: GgufFile): HfLlamaConfig => {
  const m = f.metadata;
  const arch = m["general.architecture"];
  if (arch !== "llama")
    throw new ModelFormatError({ file: f.path, field: "general.architecture", message: `${f.path}: architecture ${quote(arch)} is not supported by the GGUF Llama loader (supported: "llama"); use a Llama-family GGUF or the Hugging Face directory of the model` });
  const need = (key: string, fallback?: number): number => {
    const v = m[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      throw new ModelFormatError({ file: f.path, field: key, message: `${f.path}: metadata ${key} is ${v === undefined ? "missing" : quote(v)}; a Llama GGUF needs it as a positive number` });
    return v;
  };
  const id = (key: string): number | undefined => {
    const v = m[key];
    return typeof v === "number" && v !== NO_ID && v >= 0 ? v : undefined;
  };
  const tokens = m["tokenizer.ggml.tokens"];
  const vocab = m["llama.vocab_size"] ?? (Array.isArray(tokens) ? tokens.length : undefined)
    ?? f.tensorInfos.find((t) => t.name === "token_embd.weight")?.ne[1];
  const hidden = need("llama.embedding_length");
  const heads = need("llama.attention.head_count");
  const kvHeads = need("llama.attention.head_count_kv", heads);
  const headDim = need("llama.rope.dimension_count", hidden / heads);
  if (hidden % heads !== 0 || heads % kvHeads !== 0 || headDim % 2 !== 0)
    throw new ModelFormatError({ file: f.path, field: "llama.attention.head_count", message: `${f.path}: embedding_length ${hidden}, head_count ${heads}, head_count_kv ${kvHeads}, rope.dimension_count ${headDim} are inconsistent (need heads | d_model, kv heads | heads, even head dim)` });
  const scaling = m["llama.rope.scaling.type"];
  if (scaling !== undefined && scaling !== "none")
    throw new ModelFormatError({ file: f.path, field: "llama.rope.scaling.type", message: `${f.path}: RoPE scaling ${quote(scaling)} is not supported (only plain RoPE); use a model without rope scaling` });
  const names = new Set(f.tensorInfos.map((t) => t.name));
  const cfg: HfLlamaConfig = {
    model_type: "llama",
    architectures: ["LlamaForCausalLM"],
    vocab_size: need("llama.vocab_size", typeof vocab === "number" ? vocab : undefined),
    hidden_size: hidden,
    num_hidden_layers: need("llama.block_count"),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    intermediate_size: need("llama.feed_forward_length"),
    max_position_embeddings: need("llama.context_length"),
    rope_theta: need("llama.rope.freq_base", 10000),
    rms_norm_eps: need("llama.attention.layer_norm_rms_epsilon"),
    hidden_act: "silu",
    tie_word_embeddings: !names.has("output.weight"),
    attention_bias: names.has("blk.0.attn_q.bias"),
  };
  const bos = id("tokenizer.ggml.bos_token_id"), eos = id("tokenizer.ggml.eos_token_id"), pad = id("tokenizer.ggml.padding_token_id");
  if (bos !== undefined) cfg.bos_token_id = bos;
  if (eos !== undefined) cfg.eos_token_id = eos;
  if (pad !== undefined) cfg.pad_token_id = pad;
  return cfg;
};

const LAYER_NAMES: Record<string, string> = {
  attn_norm: "input_layernorm",
  attn_q: "self_attn.q_proj",
  attn_k: "self_attn.k_proj",
  attn_v: "self_attn.v_proj",
  attn_output: "self_attn.o_proj",
  ffn_norm: "post_attention_layernorm",
  ffn_gate: "mlp.gate_proj",
  ffn_up: "mlp.up_proj",
  ffn_down: "mlp.down_proj",
};
const TOP_NAMES: Record<string, string> = {
  "token_embd.weight": "model.embed_tokens.weight",
  "output_norm.weight": "model.norm.weight",
  "output.weight": "lm_head.weight",
};

/** The Hugging Face name of a GGUF Llama tensor, or undefined for a name outside the Llama layout. */
export const hfLlamaName = (ggufName: string): string | undefined => {
  if (TOP_NAMES[ggufName]) return TOP_NAMES[ggufName];
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(ggufName);
  const mod = m && LAYER_NAMES[m[2]];
  return mod ? `model.layers.${m[1]}.${mod}.${m[3]}` : undefined;
};

/** The GGUF name of a Hugging Face Llama tensor name (the inverse of hfLlamaName). */
export const ggufLlamaName = (hfName: string): string | undefined => {
  const top = Object.entries(TOP_NAMES).find(([, v]) => v === hfName);
  if (top) return top[0];
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  const mod = m && Object.entries(LAYER_NAMES).find(([, v]) => v === m[2]);
  return m && mod ? `blk.${m[1]}.${mod[0]}.${m[3]}` : undefined;
};

/**
 * Undo llama.cpp's q/k row permutation: rows are [heads · d] (d = head dim) of `cols` values each;
 * GGUF row h·d + 2i + j goes to row h·d + j·(d/2) + i. Returns a new array.
 */
export const unpermuteRope = (data: Float32Array, heads: number, cols: number): Float32Array => {
  const rows = data.length / cols;
  const d = rows / heads;
  if (!Number.isInteger(d) || d % 2 !== 0) throw new RangeError(`unpermuteRope: ${rows} rows do not split into ${heads} heads of even size`);
  const out = new Float32Array(data.length);
  const half = d / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const src = (h * d + 2 * i + j) * cols;
        out.set(data.subarray(src, src + cols), (h * d + j * half + i) * cols);
      }
  return out;
};

/** One tensor of a GGUF Llama under its Hugging Face name, read (and converted) when asked. */
export interface HfLazyTensor {
  readonly name: string;
  readonly ggufName: string;
  readonly shape: readonly number[];
  /** Read, dequantise and (for q/k) un-permute the tensor; the GGUF file must still be open. */
  read(): Float32Array;
}

/**
 * A Llama GGUF as Hugging Face Llama tensors, without reading any data yet: names, shapes and
 * completeness are checked first (a tensor outside the Llama layout, a missing tensor, or a shape
 * that disagrees with the config is a typed error), then each tensor is read on demand, so a
 * caller can move them one at a time into its own storage.
 */
export const ggufLlamaTensors = (f: GgufFile): { config: HfLlamaConfig; tensors: HfLazyTensor[] } => {
  const config = ggufLlamaConfig(f);
  const { hidden_size: d, num_attention_heads: nh, num_key_value_heads: nkv, head_dim: hd, intermediate_size: ff, vocab_size: V } = config;
  const expected = new Map<string, number[]>([
    ["model.embed_tokens.weight", [V, d]],
    ["model.norm.weight", [d]],
  ]);
  if (!config.tie_word_embeddings) expected.set("lm_head.weight", [V, d]);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    expected.set(`${p}input_layernorm.weight`, [d]);
    expected.set(`${p}post_attention_layernorm.weight`, [d]);
    expected.set(`${p}self_attn.q_proj.weight`, [nh * hd, d]);
    expected.set(`${p}self_attn.k_proj.weight`, [nkv * hd, d]);
    expected.set(`${p}self_attn.v_proj.weight`, [nkv * hd, d]);
    expected.set(`${p}self_attn.o_proj.weight`, [d, nh * hd]);
    expected.set(`${p}mlp.gate_proj.weight`, [ff, d]);
    expected.set(`${p}mlp.up_proj.weight`, [ff, d]);
    expected.set(`${p}mlp.down_proj.weight`, [d, ff]);
    if (config.attention_bias) {
      expected.set(`${p}self_attn.q_proj.bias`, [nh * hd]);
      expected.set(`${p}self_attn.k_proj.bias`, [nkv * hd]);
      expected.set(`${p}self_attn.v_proj.bias`, [nkv * hd]);
    }
  }
  const tensors: HfLazyTensor[] = [];
  for (const t of f.tensorInfos) {
    const hf = hfLlamaName(t.name);
    if (!hf || !expected.has(hf))
      throw new ModelFormatError({ file: f.path, tensor: t.name, message: `${f.path}: tensor ${quote(t.name)} is not part of a ${config.num_hidden_layers}-layer Llama (supported names: token_embd, blk.N.{${Object.keys(LAYER_NAMES).join(",")}}, output_norm, output); this GGUF is of a variant acft does not load` });
    const want = expected.get(hf)!;
    if (want.join(",") !== t.shape.join(","))
      throw new ModelFormatError({ file: f.path, tensor: t.name, message: `${f.path}: tensor ${quote(t.name)} has row-major shape [${t.shape.join(", ")}] but the metadata implies [${want.join(", ")}] for ${hf}; the file's metadata and tensors disagree` });
    const heads = /\.attn_q\./.test(t.name) ? nh : /\.attn_k\./.test(t.name) ? nkv : 0;
    const cols = t.shape.length > 1 ? t.shape[1] : 1;
    tensors.push({
      name: hf, ggufName: t.name, shape: [...t.shape],
      read: () => { const data = f.readTensor(t.name).data; return heads ? unpermuteRope(data, heads, cols) : data; },
    });
  }
  const have = new Set(tensors.map((t) => t.name));
  for (const name of expected.keys())
    if (!have.has(name))
      throw new ModelFormatError({ file: f.path, tensor: name, message: `${f.path}: the Llama checkpoint lacks ${name} (GGUF tensor ${ggufLlamaName(name)}); the file is incomplete` });
  return { config, tensors };
};

/**
 * Read a Llama GGUF as a Hugging Face Llama checkpoint: config fields and every tensor under its
 * Hugging Face name in row-major layout, q/k converted to the rotate-half RoPE layout.
 */
export const ggufToHfLlama = (f: GgufFile): HfCheckpoint => {
  const { config, tensors } = ggufLlamaTensors(f);
  return { config, tensors: new Map(tensors.map((t) => [t.name, { shape: t.shape, data: t.read() }])) };
};

/** Open a Llama GGUF file, convert it with ggufToHfLlama, and close it. */
export const readGgufLlama = async (path: string): Promise<HfCheckpoint> => {
  const f = await openGguf(path);
  try { return ggufToHfLlama(f); } finally { f.close(); }
};
