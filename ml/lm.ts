// Decoder-only transformer LM, one definition for the GPT-2 family (Radford et al. 2019: learned
// positions, LayerNorm, tanh-GELU MLP, biases, head tied to the token embedding, Press & Wolf 2017)
// and the Llama family (Touvron et al. 2023: RMSNorm, rotary positions, SwiGLU MLP, grouped-query
// attention, no biases or Qwen2's q/k/v biases, tied or untied head), chosen by config switches;
// acft's own from-scratch LM is the GPT-2 configuration (the defaults). Read top to bottom:
// config -> parameters -> block -> body -> forward. Parameters are an explicit record of
// tf.Variable; functions take them as arguments.
// All hot ops go through ops() (ml/ops.ts) so fused kernels can replace them.
import * as tf from "@tensorflow/tfjs";
import { ParseResult, Schema } from "effect";
import { ConfigError } from "./errors.ts";
import { ops } from "./ops.ts";
import { deriveSeed, makeRng } from "./prng.ts";

// ---------------------------------------------------------------- config
// The size fields are required; the architecture switches are optional and, when absent, take
// acft's own from-scratch configuration (GPT-2: LayerNorm, learned positions, tanh-GELU MLP, every
// linear layer with a bias, head tied to the token embedding). `archOf` resolves the defaults.
export const LMConfigSchema = Schema.Struct({
  vocabSize: Schema.Int.annotations({ description: "number of token ids (tokenizer vocab incl. special tokens)" }),
  contextLength: Schema.Int.annotations({ description: "maximum sequence length (learned positions; RoPE: max_position_embeddings)" }),
  dModel: Schema.Int.annotations({ description: "residual stream width C" }),
  nHeads: Schema.Int.annotations({ description: "attention (query) heads; dModel must be divisible by it" }),
  nLayers: Schema.Int.annotations({ description: "transformer blocks" }),
  mlpRatio: Schema.Number.annotations({ description: "MLP hidden width = mlpRatio * dModel (GPT-2: 4), unless mlpHidden is set" }),
  dropout: Schema.Number.annotations({ description: "dropout rate on embeddings and residual branches (training only)" }),
  norm: Schema.optional(Schema.Literal("layernorm", "rmsnorm")).annotations({ description: "block/final norm: layernorm (GPT-2, default) or rmsnorm (Llama)" }),
  normEps: Schema.optional(Schema.Number).annotations({ description: "epsilon of the norms (default 1e-5)" }),
  positions: Schema.optional(Schema.Literal("learned", "rope")).annotations({ description: "learned position embeddings (default) or rotary (RoPE, rotate-half layout)" }),
  ropeTheta: Schema.optional(Schema.Number).annotations({ description: "RoPE base theta (default 10000)" }),
  mlp: Schema.optional(Schema.Literal("gelu", "swiglu")).annotations({ description: "MLP: tanh-GELU (default) or SwiGLU silu(gate) * up" }),
  mlpHidden: Schema.optional(Schema.Int).annotations({ description: "MLP hidden width M; overrides mlpRatio * dModel" }),
  nKVHeads: Schema.optional(Schema.Int).annotations({ description: "key/value heads (grouped-query attention); default nHeads" }),
  qkvBias: Schema.optional(Schema.Boolean).annotations({ description: "biases on the q/k/v projections (default true)" }),
  projBias: Schema.optional(Schema.Boolean).annotations({ description: "bias on the attention output projection (default true)" }),
  mlpBias: Schema.optional(Schema.Boolean).annotations({ description: "biases on the MLP projections (default true)" }),
  tiedHead: Schema.optional(Schema.Boolean).annotations({ description: "output head tied to the token embedding (default true)" }),
});
export type LMConfig = typeof LMConfigSchema.Type;

/** A config's architecture with every default filled in. */
export interface Arch {
  norm: "layernorm" | "rmsnorm"; eps: number;
  positions: "learned" | "rope"; ropeTheta: number;
  mlp: "gelu" | "swiglu"; hidden: number; // M
  nKV: number; headSize: number;
  qkvBias: boolean; projBias: boolean; mlpBias: boolean; tiedHead: boolean;
}
export const archOf = (c: LMConfig): Arch => ({
  norm: c.norm ?? "layernorm", eps: c.normEps ?? 1e-5,
  positions: c.positions ?? "learned", ropeTheta: c.ropeTheta ?? 10000,
  mlp: c.mlp ?? "gelu", hidden: c.mlpHidden ?? c.mlpRatio * c.dModel,
  nKV: c.nKVHeads ?? c.nHeads, headSize: c.dModel / c.nHeads,
  qkvBias: c.qkvBias ?? true, projBias: c.projBias ?? true, mlpBias: c.mlpBias ?? true, tiedHead: c.tiedHead ?? true,
});

/** Named size presets (acft's GPT-2 configuration). `reference` is the benchmark config. */
export const PRESETS = {
  /** For unit tests: fast on the cpu backend. */
  tiny: { vocabSize: 64, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 2, mlpRatio: 4, dropout: 0 },
  /** The benchmark reference config (1.07M params with vocab 2048). */
  reference: { vocabSize: 2048, contextLength: 128, dModel: 128, nHeads: 4, nLayers: 4, mlpRatio: 4, dropout: 0 },
  small: { vocabSize: 2048, contextLength: 128, dModel: 128, nHeads: 4, nLayers: 4, mlpRatio: 4, dropout: 0.1 },
  base: { vocabSize: 4096, contextLength: 256, dModel: 256, nHeads: 8, nLayers: 6, mlpRatio: 4, dropout: 0.1 },
} as const satisfies Record<string, LMConfig>;
export type PresetName = keyof typeof PRESETS;

/** Decode and check a config; throws ConfigError naming the field. */
export const validateConfig = (input: unknown): LMConfig => {
  const decoded = Schema.decodeUnknownEither(LMConfigSchema, { onExcessProperty: "error" })(input);
  if (decoded._tag === "Left") {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left);
    const first = issues[0]?.path.join(".") || "LMConfig";
    const text = issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`).join("; ");
    throw new ConfigError({ field: first, message: `invalid LM config: ${text.length > 400 ? `${text.slice(0, 400)}...` : text}` });
  }
  const c = decoded.right;
  const bad = (field: string, message: string) => new ConfigError({ field, message: `LMConfig.${field} ${message}` });
  const positive = ["vocabSize", "contextLength", "dModel", "nHeads", "nLayers", "mlpRatio", "normEps", "ropeTheta", "mlpHidden", "nKVHeads"] as const;
  for (const f of positive)
    if (c[f] !== undefined && !(c[f] > 0)) throw bad(f, `must be > 0, got ${c[f]}`);
  if (c.dModel % c.nHeads !== 0) throw bad("nHeads", `(${c.nHeads}): dModel (${c.dModel}) must be divisible by nHeads`);
  if (c.mlpHidden === undefined && !Number.isInteger(c.mlpRatio * c.dModel))
    throw bad("mlpRatio", `* dModel must be an integer, got ${c.mlpRatio * c.dModel}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw bad("dropout", `must be in [0, 1), got ${c.dropout}`);
  const a = archOf(c);
  if (c.nHeads % a.nKV !== 0) throw bad("nKVHeads", `must divide nHeads (${c.nHeads}), got ${a.nKV}`);
  if (a.positions === "rope" && a.headSize % 2 !== 0) throw bad("positions", `"rope" needs an even head size, got ${a.headSize}`);
  return c;
};

/**
 * A preset by name with overrides (e.g. `{ vocabSize: tok.vocabSize }`), validated. An unknown
 * preset or override key is a ConfigError listing the known ones.
 */
export const resolveConfig = (preset: string, overrides: Record<string, unknown> = {}): LMConfig => {
  if (!Object.hasOwn(PRESETS, preset))
    throw new ConfigError({ field: "preset", message: `unknown LM preset "${preset}"; known presets: ${Object.keys(PRESETS).join(", ")}` });
  const known = Object.keys(LMConfigSchema.fields);
  const unknown = Object.keys(overrides).filter((k) => !known.includes(k));
  if (unknown.length > 0)
    throw new ConfigError({ field: unknown[0], message: `unknown LM config key(s) ${unknown.join(", ")}; known keys: ${known.join(", ")}` });
  return validateConfig({ ...PRESETS[preset as PresetName], ...overrides });
};

// ---------------------------------------------------------------- parameters
// Weights are stored (in, out): y = x W + b. With nh query heads, nkv key/value heads and head size
// hs = C / nh, attnW's columns are [q (nh hs) | k (nkv hs) | v (nkv hs)]; with SwiGLU, fcW's columns
// are [gate (M) | up (M)]. Parameters a configuration does not have are absent (undefined).
export interface BlockParams {
  ln1G: tf.Variable; ln1B?: tf.Variable; // (C); no bias with RMSNorm
  attnW: tf.Variable; attnB?: tf.Variable; // (C, (nh + 2 nkv) hs), ((nh + 2 nkv) hs): fused q, k, v
  projW: tf.Variable; projB?: tf.Variable; // (C, C), (C)
  ln2G: tf.Variable; ln2B?: tf.Variable; // (C)
  fcW: tf.Variable; fcB?: tf.Variable; // (C, M), (M); SwiGLU: (C, 2M), (2M)
  fc2W: tf.Variable; fc2B?: tf.Variable; // (M, C), (C)
}
/** The transformer body: blocks + final norm. Shared by the LM and models built on it (NADO). */
export interface BodyParams {
  blocks: BlockParams[];
  lnfG: tf.Variable; lnfB?: tf.Variable; // (C)
}
export interface LMParams extends BodyParams {
  wte: tf.Variable; // (V, C) token embedding, also the output head when tied
  wpe?: tf.Variable; // (T, C) learned positions (absent with RoPE)
  wout?: tf.Variable; // (V, C) untied output head: logits = hidden wout^T
}

const BLOCK_KEYS = ["ln1G", "ln1B", "attnW", "attnB", "projW", "projB", "ln2G", "ln2B", "fcW", "fcB", "fc2W", "fc2B"] as const;
type BlockKey = (typeof BLOCK_KEYS)[number];

/** The shape of every block parameter the config has (absent keys: the config has no such parameter). */
const blockShapes = (c: LMConfig): Partial<Record<BlockKey, number[]>> => {
  const a = archOf(c);
  const C = c.dModel;
  const M = a.hidden;
  const qkv = (c.nHeads + 2 * a.nKV) * a.headSize;
  const fc = a.mlp === "swiglu" ? 2 * M : M;
  const ln = a.norm === "layernorm";
  return {
    ln1G: [C], ...(ln ? { ln1B: [C] } : {}),
    attnW: [C, qkv], ...(a.qkvBias ? { attnB: [qkv] } : {}),
    projW: [C, C], ...(a.projBias ? { projB: [C] } : {}),
    ln2G: [C], ...(ln ? { ln2B: [C] } : {}),
    fcW: [C, fc], ...(a.mlpBias ? { fcB: [fc] } : {}),
    fc2W: [M, C], ...(a.mlpBias ? { fc2B: [C] } : {}),
  };
};

/** Every LM parameter's name (as lmVariables) and shape, in lmVariables order. */
export const lmShapes = (config: LMConfig): Record<string, number[]> => {
  const c = validateConfig(config);
  const a = archOf(c);
  const out: Record<string, number[]> = { wte: [c.vocabSize, c.dModel] };
  if (a.positions === "learned") out.wpe = [c.contextLength, c.dModel];
  const bs = blockShapes(c);
  for (let l = 0; l < c.nLayers; l++) for (const k of BLOCK_KEYS) if (bs[k]) out[`h${l}.${k}`] = bs[k];
  out.lnfG = [c.dModel];
  if (a.norm === "layernorm") out.lnfB = [c.dModel];
  if (!a.tiedHead) out.wout = [c.vocabSize, c.dModel];
  return out;
};

type Init = (shape: number[], std: number) => tf.Variable;
const makeInit = (seed: number, prefix: string): { normal: (name: string) => Init; fill: (name: string, shape: number[], v: number) => tf.Variable } => {
  const rng = makeRng(seed);
  const normal = (name: string): Init => (shape, std) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const vals = new Float32Array(n);
    for (let i = 0; i < n; i++) vals[i] = rng.normal() * std;
    return tf.tidy(() => tf.variable(tf.tensor(vals, shape, "float32"), true, `${prefix}${name}`));
  };
  const fill = (name: string, shape: number[], v: number): tf.Variable =>
    tf.tidy(() => tf.variable(tf.fill(shape, v, "float32"), true, `${prefix}${name}`));
  return { normal, fill };
};

// tf.variable names must be unique per engine: suffix them with a counter.
let instance = 0;

/**
 * Initialise a body (GPT-2 init: weights N(0, 0.02), residual output projections
 * N(0, 0.02 / sqrt(2 nLayers)) (Radford et al. 2019, sec. 2.3), biases 0, norm gains 1).
 */
export const initBody = (config: LMConfig, seed: number, prefix = `body${instance++}/`): BodyParams => {
  const c = validateConfig(config);
  const { normal, fill } = makeInit(seed, prefix);
  const bs = blockShapes(c);
  const residStd = 0.02 / Math.sqrt(2 * c.nLayers);
  const zero = (name: string, shape: number[] | undefined) => (shape ? fill(name, shape, 0) : undefined);
  // The draw order (attn, proj, fc, fc2 per layer) fixes the values for a given seed.
  const blocks = Array.from({ length: c.nLayers }, (_, l): BlockParams => ({
    ln1G: fill(`h${l}.ln1.g`, bs.ln1G!, 1), ln1B: zero(`h${l}.ln1.b`, bs.ln1B),
    attnW: normal(`h${l}.attn.w`)(bs.attnW!, 0.02), attnB: zero(`h${l}.attn.b`, bs.attnB),
    projW: normal(`h${l}.proj.w`)(bs.projW!, residStd), projB: zero(`h${l}.proj.b`, bs.projB),
    ln2G: fill(`h${l}.ln2.g`, bs.ln2G!, 1), ln2B: zero(`h${l}.ln2.b`, bs.ln2B),
    fcW: normal(`h${l}.fc.w`)(bs.fcW!, 0.02), fcB: zero(`h${l}.fc.b`, bs.fcB),
    fc2W: normal(`h${l}.fc2.w`)(bs.fc2W!, residStd), fc2B: zero(`h${l}.fc2.b`, bs.fc2B),
  }));
  const ln = archOf(c).norm === "layernorm";
  return { blocks, lnfG: fill("lnf.g", [c.dModel], 1), lnfB: ln ? fill("lnf.b", [c.dModel], 0) : undefined };
};

/** Initialise an LM deterministically from `seed` (identical values on every backend). */
export const initLM = (config: LMConfig, seed: number): LMParams => {
  const c = validateConfig(config);
  const a = archOf(c);
  const prefix = `lm${instance++}/`;
  const { normal } = makeInit(deriveSeed(seed, 1), prefix);
  const wte = normal("wte")([c.vocabSize, c.dModel], 0.02);
  const wpe = a.positions === "learned" ? normal("wpe")([c.contextLength, c.dModel], 0.02) : undefined;
  const body = initBody(c, deriveSeed(seed, 2), prefix);
  const wout = a.tiedHead ? undefined : makeInit(deriveSeed(seed, 3), prefix).normal("wout")([c.vocabSize, c.dModel], 0.02);
  return { wte, ...(wpe ? { wpe } : {}), ...body, ...(wout ? { wout } : {}) };
};

/** Flatten body params to named variables ("h0.attnW", ..., "lnfG"): for optimizers and checkpoints. */
export const bodyVariables = (p: BodyParams): Record<string, tf.Variable> => {
  const out: Record<string, tf.Variable> = {};
  p.blocks.forEach((b, l) => { for (const k of BLOCK_KEYS) if (b[k]) out[`h${l}.${k}`] = b[k]; });
  out.lnfG = p.lnfG;
  if (p.lnfB) out.lnfB = p.lnfB;
  return out;
};

/** Flatten LM params to named variables (wte, wpe?, body, wout?). Order is stable. */
export const lmVariables = (p: LMParams): Record<string, tf.Variable> => ({
  wte: p.wte, ...(p.wpe ? { wpe: p.wpe } : {}), ...bodyVariables(p), ...(p.wout ? { wout: p.wout } : {}),
});

/**
 * LM params from values by lmVariables name (checkpoints, converted Hugging Face weights): every
 * parameter of the config must be present with its shape, and no other. The values are copied
 * into new variables; the caller keeps ownership of `values`.
 */
export const lmFromValues = (config: LMConfig, values: Record<string, tf.Tensor>): LMParams => {
  const shapes = lmShapes(config);
  for (const name of Object.keys(values))
    if (!shapes[name]) throw new ConfigError({ field: name, message: `parameter "${name}" is not part of this LM config (its parameters: ${Object.keys(shapes).join(", ").slice(0, 200)})` });
  const prefix = `lm${instance++}/`;
  const vars: Record<string, tf.Variable> = {};
  try {
    for (const [name, shape] of Object.entries(shapes)) {
      const t = values[name];
      if (!t) throw new ConfigError({ field: name, message: `no value for parameter "${name}"` });
      if (t.shape.join(",") !== shape.join(","))
        throw new ConfigError({ field: name, message: `parameter "${name}" has shape [${t.shape}], expected [${shape}]` });
      vars[name] = tf.variable(t, true, `${prefix}${name}`); // shares t's data (reference-counted)
    }
  } catch (e) {
    disposeParams(vars);
    throw e;
  }
  const blocks = Array.from({ length: validateConfig(config).nLayers }, (_, l) =>
    Object.fromEntries(BLOCK_KEYS.filter((k) => vars[`h${l}.${k}`]).map((k) => [k, vars[`h${l}.${k}`]])) as unknown as BlockParams);
  return { wte: vars.wte, wpe: vars.wpe, blocks, lnfG: vars.lnfG, lnfB: vars.lnfB, wout: vars.wout };
};

/** Copy values into existing params by name (e.g. from a checkpoint). Shapes must match. */
export const assignVariables = (vars: Record<string, tf.Variable>, values: Record<string, tf.Tensor>): void => {
  for (const [name, v] of Object.entries(vars)) {
    const t = values[name];
    if (!t) throw new ConfigError({ field: name, message: `no value for parameter "${name}"` });
    if (t.shape.join(",") !== v.shape.join(","))
      throw new ConfigError({ field: name, message: `parameter "${name}" has shape [${t.shape}], expected [${v.shape}]` });
    v.assign(t);
  }
};

export const countParams = (vars: Record<string, tf.Variable>): number =>
  Object.values(vars).reduce((n, v) => n + v.size, 0);

export const disposeParams = (vars: Record<string, tf.Variable>): void => {
  for (const v of Object.values(vars)) v.dispose();
};

// ---------------------------------------------------------------- forward
/** Keys/values of past positions, per layer: (B, nkv, Tpast, hs) (nkv = KV heads). Owned by the caller. */
export type KVCache = { k: tf.Tensor4D[]; v: tf.Tensor4D[] };
export const kvCacheLength = (c: KVCache | undefined): number => (c && c.k.length > 0 ? c.k[0].shape[2] : 0);
export const disposeKVCache = (c: KVCache | undefined): void => { if (c) tf.dispose([...c.k, ...c.v]); };

export interface ForwardOptions {
  /** Apply dropout (only if config.dropout > 0). */
  training?: boolean;
  /** Seed for dropout masks; pass something that changes per step (e.g. deriveSeed(seed, step)). */
  seed?: number;
  /** Past keys/values: the ids are the next positions after them. */
  kvCache?: KVCache;
  /** Return the keys/values of all positions (past + new) as `kvCache` in the result. */
  useCache?: boolean;
  /** Position ids (B, T) int32; default cacheLength + [0, T). Used with left padding. */
  positions?: tf.Tensor2D;
  /** Additive key bias (B, 1, 1, Tk) hiding padded keys (0 / MASKED), Tk = past + T. */
  keyBias?: tf.Tensor4D;
  /**
   * Preallocated KV cache written in place (decoding, see KVSlots): the new keys/values go to
   * positions [at, at + T) of the slots and attention reads all `capacity` slots, so `keyBias`
   * (B, 1, 1, capacity) must hide the positions >= at + T as well as padding. Excludes kvCache.
   */
  kvSlots?: KVSlots;
  /**
   * A hook on the block's four linear projections (LoRA, ml/lora.ts): given the layer, the
   * projection's weight name, its input x (B, T, in) and output y = x W + b (B, T, out), returns the
   * output to use. Absent: y.
   */
  adapter?: LinearAdapter;
}

/** The weights of the block's linear projections, by their BlockParams names. */
export type LinearSite = "attnW" | "projW" | "fcW" | "fc2W";
export type LinearAdapter = (layer: number, site: LinearSite, x: tf.Tensor, y: tf.Tensor, opts: ForwardOptions) => tf.Tensor;

/**
 * A KV cache of fixed capacity per layer, k/v (B, nkv, capacity, hs), filled in place: no concat
 * (a new, growing allocation per layer and step) while decoding. `write(dst, src, at)` copies src
 * (B, nh, T, hs) into dst positions [at, at + T); only backends whose readSync hands out the live
 * storage support it (see ml/generate.ts). Owned by the caller.
 */
export type KVSlots = { k: tf.Tensor4D[]; v: tf.Tensor4D[]; at: number };

/** Whether the active backend can hold KVSlots (its readSync returns the tensor's own storage). */
export const kvSlotsSupported = (): boolean => ["cpu", "acft"].includes(tf.getBackend());

/** Copy src (B, nh, T, hs) into positions [at, at + T) of dst (B, nh, capacity, hs), in place. */
export const writeKVSlot = (dst: tf.Tensor4D, src: tf.Tensor4D, at: number): void => {
  const [B, nh, cap, hs] = dst.shape;
  const T = src.shape[2];
  if (src.shape[0] !== B || src.shape[1] !== nh || src.shape[3] !== hs || at < 0 || at + T > cap)
    throw new RangeError(`writeKVSlot: cannot write [${src.shape}] at ${at} into [${dst.shape}]`);
  const d = tf.backend().readSync(dst.dataId) as Float32Array; // live storage (kvSlotsSupported)
  const s = src.dataSync() as Float32Array;
  for (let r = 0; r < B * nh; r++) d.set(s.subarray(r * T * hs, (r + 1) * T * hs), (r * cap + at) * hs);
};
// Type aliases (not interfaces) so results can be returned from tf.tidy.
export type BodyOutput = { hidden: tf.Tensor3D; kvCache?: KVCache };

const dropout = (x: tf.Tensor, rate: number, opts: ForwardOptions, ...site: number[]): tf.Tensor =>
  opts.training && rate > 0 ? tf.dropout(x, rate, undefined, deriveSeed(opts.seed ?? 0, ...site)) : x;

/** Cos/sin tables of RoPE for position ids: (B, 1, T, hs/2) each, or (1, 1, T, hs/2) for shared ids. */
export type Rotary = { cos: tf.Tensor4D; sin: tf.Tensor4D };

/**
 * RoPE tables for the positions of this call: opts.positions (B, T), else cacheLength + [0, T).
 * Angles pos * theta^(-2i/hs), i in [0, hs/2), in float64 before rounding to float32.
 */
const rotary = (c: LMConfig, T: number, opts: ForwardOptions): Rotary => {
  const a = archOf(c);
  const half = a.headSize / 2;
  const pos = opts.positions
    ? Array.from(opts.positions.dataSync())
    : Array.from({ length: T }, (_, t) => t + kvCacheLength(opts.kvCache));
  const rows = opts.positions ? opts.positions.shape[0] : 1;
  const cos = new Float32Array(pos.length * half);
  const sin = new Float32Array(pos.length * half);
  const inv = Array.from({ length: half }, (_, i) => a.ropeTheta ** (-(2 * i) / a.headSize));
  pos.forEach((p, r) => inv.forEach((f, i) => { cos[r * half + i] = Math.cos(p * f); sin[r * half + i] = Math.sin(p * f); }));
  return { cos: tf.tensor4d(cos, [rows, 1, T, half]), sin: tf.tensor4d(sin, [rows, 1, T, half]) };
};

/** The config's norm: LayerNorm (gain + bias) or RMSNorm (gain only). */
const norm = (c: LMConfig, x: tf.Tensor, g: tf.Variable, b: tf.Variable | undefined): tf.Tensor => {
  const a = archOf(c);
  return a.norm === "rmsnorm"
    ? ops().rmsNorm(x, g as tf.Tensor1D, a.eps)
    : ops().layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, a.eps);
};

/** k/v (B, nkv, T, hs) -> (B, nh, T, hs): each key/value head serves nh / nkv consecutive query heads. */
const repeatKV = (t: tf.Tensor4D, nh: number): tf.Tensor4D => {
  const [B, nkv, T, hs] = t.shape;
  if (nkv === nh) return t;
  // (B nkv, 1, T, hs) tiled to (B nkv, nh / nkv, T, hs): rank 4, where tfjs has Tile's gradient
  return tf.tile(t.reshape([B * nkv, 1, T, hs]), [1, nh / nkv, 1, 1]).reshape([B, nh, T, hs]) as tf.Tensor4D;
};

/** One pre-norm block: x + attn(norm1(x)); x + mlp(norm2(x)). x (B, T, C). */
const block = (
  b: BlockParams, c: LMConfig, l: number, x: tf.Tensor3D, opts: ForwardOptions, rope: Rotary | undefined,
  past?: { k: tf.Tensor4D; v: tf.Tensor4D },
): { y: tf.Tensor3D; k: tf.Tensor4D; v: tf.Tensor4D } => {
  const o = ops();
  const a = archOf(c);
  const [B, T, C] = x.shape;
  const nh = c.nHeads;
  const nkv = a.nKV;
  const hs = a.headSize;
  const linear = (site: LinearSite, input: tf.Tensor, w: tf.Variable, bias: tf.Variable | undefined): tf.Tensor => {
    const y = o.linear(input, w as tf.Tensor2D, bias as tf.Tensor1D | undefined);
    return opts.adapter ? opts.adapter(l, site, input, y, opts) : y;
  };
  const h = norm(c, x, b.ln1G, b.ln1B);
  const qkv = linear("attnW", h, b.attnW, b.attnB); // (B, T, (nh + 2 nkv) hs)
  // (B, T, n hs) -> (B, T, n, hs) -> (B, n, T, hs)
  const heads = (t: tf.Tensor, n: number) => t.reshape([B, T, n, hs]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  const [qf, kf, vf] = tf.split(qkv, [nh * hs, nkv * hs, nkv * hs], -1);
  let q = heads(qf, nh);
  let kNew = heads(kf, nkv);
  const vNew = heads(vf, nkv);
  if (rope) {
    q = o.rope(q, rope.cos, rope.sin);
    kNew = o.rope(kNew, rope.cos, rope.sin);
  }
  let k = past ? (tf.concat([past.k, kNew], 2) as tf.Tensor4D) : kNew; // (B, nkv, Tpast + T, hs)
  let v = past ? (tf.concat([past.v, vNew], 2) as tf.Tensor4D) : vNew;
  if (opts.kvSlots) { // in place: (B, nkv, capacity, hs), future positions hidden by keyBias
    const s = opts.kvSlots;
    writeKVSlot(s.k[l], kNew, s.at);
    writeKVSlot(s.v[l], vNew, s.at);
    [k, v] = [s.k[l], s.v[l]];
  }
  const att = o.causalAttention(q, repeatKV(k, nh), repeatKV(v, nh), opts.keyBias); // (B, nh, T, hs)
  const merged = att.transpose([0, 2, 1, 3]).reshape([B, T, C]); // (B, nh, T, hs) -> (B, T, C)
  const proj = linear("projW", merged, b.projW, b.projB);
  const x1 = tf.add(x, dropout(proj, c.dropout, opts, l, 1)) as tf.Tensor3D;
  const h2 = norm(c, x1, b.ln2G, b.ln2B);
  const fc = linear("fcW", h2, b.fcW, b.fcB); // (B, T, M) or SwiGLU (B, T, 2M)
  let act: tf.Tensor;
  if (a.mlp === "swiglu") {
    const [gate, up] = tf.split(fc, 2, -1);
    act = o.swiglu(gate, up); // (B, T, M)
  } else act = o.gelu(fc);
  const mlp = linear("fc2W", act, b.fc2W, b.fc2B); // (B, T, C)
  return { y: tf.add(x1, dropout(mlp, c.dropout, opts, l, 2)) as tf.Tensor3D, k, v };
};

/**
 * The transformer body on already-embedded inputs x (B, T, C): blocks then the final norm.
 * Returns hidden (B, T, C) and, with useCache/kvCache, the keys/values of all positions.
 */
export const transformerBody = (p: BodyParams, c: LMConfig, x: tf.Tensor3D, opts: ForwardOptions = {}): BodyOutput => {
  const wantCache = opts.useCache || opts.kvCache !== undefined;
  const ks: tf.Tensor4D[] = [];
  const vs: tf.Tensor4D[] = [];
  const rope = archOf(c).positions === "rope" ? rotary(c, x.shape[1], opts) : undefined;
  let h = x;
  p.blocks.forEach((b, l) => {
    const past = opts.kvCache ? { k: opts.kvCache.k[l], v: opts.kvCache.v[l] } : undefined;
    const out = block(b, c, l, h, opts, rope, past);
    h = out.y;
    ks.push(out.k);
    vs.push(out.v);
  });
  const hidden = norm(c, h, p.lnfG, p.lnfB) as tf.Tensor3D;
  return wantCache ? { hidden, kvCache: { k: ks, v: vs } } : { hidden };
};

/** Token (+ learned position) embedding: ids (B, T) -> (B, T, C). RoPE positions enter in the body. */
export const embed = (p: Pick<LMParams, "wte" | "wpe">, c: LMConfig, ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D => {
  const [, T] = ids.shape;
  const past = kvCacheLength(opts.kvCache);
  if (!opts.positions && past + T > c.contextLength)
    throw new ConfigError({ field: "contextLength", message: `sequence of ${past + T} tokens exceeds contextLength ${c.contextLength}` });
  const tok = tf.gather(p.wte, tf.cast(ids, "int32")); // (B, T, C)
  if (!p.wpe) return dropout(tok, c.dropout, opts, 1 << 20) as tf.Tensor3D;
  const pos = opts.positions
    ? tf.gather(p.wpe, tf.cast(opts.positions, "int32")) // (B, T, C)
    : tf.gather(p.wpe, tf.range(past, past + T, 1, "int32")); // (T, C), broadcast over B
  return dropout(tf.add(tok, pos), c.dropout, opts, 1 << 20) as tf.Tensor3D;
};

/** Output head: hidden (B, T, C) -> logits (B, T, V) = hidden W^T with W = wout (untied) or wte (tied). */
export const lmHead = (p: Pick<LMParams, "wte" | "wout">, hidden: tf.Tensor3D): tf.Tensor3D => {
  const [B, T, C] = hidden.shape;
  return tf.matMul(hidden.reshape([B * T, C]), p.wout ?? p.wte, false, true).reshape([B, T, -1]) as tf.Tensor3D;
};

export type LMOutput = BodyOutput & { logits: tf.Tensor3D };

/** Forward pass. ids (B, T) int32 -> logits (B, T, V), hidden (B, T, C) [, kvCache]. Call inside tf.tidy. */
export const lmForward = (p: LMParams, c: LMConfig, ids: tf.Tensor2D, opts: ForwardOptions = {}): LMOutput => {
  const body = transformerBody(p, c, embed(p, c, ids, opts), opts);
  return { ...body, logits: lmHead(p, body.hidden) };
};

/**
 * Next-token LM loss. `ids` (B, T+1) holds inputs ids[:, :T] and targets ids[:, 1:]; `mask` (B, T),
 * optional, weights target ids[:, t+1] (1 = counted, 0 = ignored, e.g. prompt or padding).
 * Returns the masked mean cross-entropy, a scalar.
 */
export const lmLoss = (p: LMParams, c: LMConfig, ids: tf.Tensor2D, mask?: tf.Tensor2D, opts: ForwardOptions = {}): tf.Scalar => {
  const [B, T1] = ids.shape;
  const T = T1 - 1;
  const inputs = ids.slice([0, 0], [B, T]) as tf.Tensor2D;
  const targets = ids.slice([0, 1], [B, T]).reshape([B * T]) as tf.Tensor1D;
  const { logits } = lmForward(p, c, inputs, opts);
  return ops().softmaxCrossEntropy(logits.reshape([B * T, -1]) as tf.Tensor2D, targets, mask?.reshape([B * T]) as tf.Tensor1D | undefined);
};
