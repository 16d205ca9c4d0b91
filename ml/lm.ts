// Decoder-only transformer LM (GPT-2 architecture, Radford et al. 2019): learned token + position
// embeddings, pre-LayerNorm blocks (attention, GELU MLP), final LayerNorm, output head tied to the
// token embedding (Press & Wolf 2017). Read top to bottom: config -> parameters -> block -> body ->
// forward. Parameters are an explicit record of tf.Variable; functions take them as arguments.
// All hot ops go through ops() (ml/ops.ts) so fused kernels can replace them.
import * as tf from "@tensorflow/tfjs";
import { Schema } from "effect";
import { ConfigError } from "./errors.ts";
import { ops } from "./ops.ts";
import { deriveSeed, makeRng } from "./prng.ts";

// ---------------------------------------------------------------- config
export const LMConfigSchema = Schema.Struct({
  vocabSize: Schema.Int.annotations({ description: "number of token ids (tokenizer vocab incl. special tokens)" }),
  contextLength: Schema.Int.annotations({ description: "maximum sequence length (learned positions)" }),
  dModel: Schema.Int.annotations({ description: "residual stream width C" }),
  nHeads: Schema.Int.annotations({ description: "attention heads; dModel must be divisible by it" }),
  nLayers: Schema.Int.annotations({ description: "transformer blocks" }),
  mlpRatio: Schema.Number.annotations({ description: "MLP hidden width = mlpRatio * dModel (GPT-2: 4)" }),
  dropout: Schema.Number.annotations({ description: "dropout rate on embeddings and residual branches (training only)" }),
});
export type LMConfig = typeof LMConfigSchema.Type;

/** Named size presets. `reference` is the benchmark config of issue 3. */
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
  if (decoded._tag === "Left") throw new ConfigError({ field: "LMConfig", message: `invalid LM config: ${decoded.left.message}` });
  const c = decoded.right;
  const positive = ["vocabSize", "contextLength", "dModel", "nHeads", "nLayers", "mlpRatio"] as const;
  for (const f of positive)
    if (!(c[f] > 0)) throw new ConfigError({ field: f, message: `LMConfig.${f} must be > 0, got ${c[f]}` });
  if (c.dModel % c.nHeads !== 0)
    throw new ConfigError({ field: "nHeads", message: `LMConfig.dModel (${c.dModel}) must be divisible by nHeads (${c.nHeads})` });
  if (!Number.isInteger(c.mlpRatio * c.dModel))
    throw new ConfigError({ field: "mlpRatio", message: `LMConfig.mlpRatio * dModel must be an integer, got ${c.mlpRatio * c.dModel}` });
  if (!(c.dropout >= 0 && c.dropout < 1))
    throw new ConfigError({ field: "dropout", message: `LMConfig.dropout must be in [0, 1), got ${c.dropout}` });
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
export interface BlockParams {
  ln1G: tf.Variable; ln1B: tf.Variable; // (C)
  attnW: tf.Variable; attnB: tf.Variable; // (C, 3C), (3C): fused q, k, v projections
  projW: tf.Variable; projB: tf.Variable; // (C, C), (C)
  ln2G: tf.Variable; ln2B: tf.Variable; // (C)
  fcW: tf.Variable; fcB: tf.Variable; // (C, M), (M) with M = mlpRatio * C
  fc2W: tf.Variable; fc2B: tf.Variable; // (M, C), (C)
}
/** The transformer body: blocks + final LayerNorm. Shared by the LM and models built on it (NADO). */
export interface BodyParams {
  blocks: BlockParams[];
  lnfG: tf.Variable; lnfB: tf.Variable; // (C)
}
export interface LMParams extends BodyParams {
  wte: tf.Variable; // (V, C) token embedding, also the output head (tied)
  wpe: tf.Variable; // (T, C) learned positions
}

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
 * N(0, 0.02 / sqrt(2 nLayers)) (Radford et al. 2019, sec. 2.3), biases 0, LayerNorm gains 1).
 */
export const initBody = (config: LMConfig, seed: number, prefix = `body${instance++}/`): BodyParams => {
  const c = validateConfig(config);
  const { normal, fill } = makeInit(seed, prefix);
  const C = c.dModel;
  const M = c.mlpRatio * C;
  const residStd = 0.02 / Math.sqrt(2 * c.nLayers);
  const blocks = Array.from({ length: c.nLayers }, (_, l): BlockParams => ({
    ln1G: fill(`h${l}.ln1.g`, [C], 1), ln1B: fill(`h${l}.ln1.b`, [C], 0),
    attnW: normal(`h${l}.attn.w`)([C, 3 * C], 0.02), attnB: fill(`h${l}.attn.b`, [3 * C], 0),
    projW: normal(`h${l}.proj.w`)([C, C], residStd), projB: fill(`h${l}.proj.b`, [C], 0),
    ln2G: fill(`h${l}.ln2.g`, [C], 1), ln2B: fill(`h${l}.ln2.b`, [C], 0),
    fcW: normal(`h${l}.fc.w`)([C, M], 0.02), fcB: fill(`h${l}.fc.b`, [M], 0),
    fc2W: normal(`h${l}.fc2.w`)([M, C], residStd), fc2B: fill(`h${l}.fc2.b`, [C], 0),
  }));
  return { blocks, lnfG: fill("lnf.g", [C], 1), lnfB: fill("lnf.b", [C], 0) };
};

/** Initialise an LM deterministically from `seed` (identical values on every backend). */
export const initLM = (config: LMConfig, seed: number): LMParams => {
  const c = validateConfig(config);
  const prefix = `lm${instance++}/`;
  const { normal } = makeInit(deriveSeed(seed, 1), prefix);
  const wte = normal("wte")([c.vocabSize, c.dModel], 0.02);
  const wpe = normal("wpe")([c.contextLength, c.dModel], 0.02);
  return { wte, wpe, ...initBody(c, deriveSeed(seed, 2), prefix) };
};

const BLOCK_KEYS = ["ln1G", "ln1B", "attnW", "attnB", "projW", "projB", "ln2G", "ln2B", "fcW", "fcB", "fc2W", "fc2B"] as const;

/** Flatten body params to named variables ("h0.attnW", ..., "lnfG"): for optimizers and checkpoints. */
export const bodyVariables = (p: BodyParams): Record<string, tf.Variable> => {
  const out: Record<string, tf.Variable> = {};
  p.blocks.forEach((b, l) => { for (const k of BLOCK_KEYS) out[`h${l}.${k}`] = b[k]; });
  out.lnfG = p.lnfG;
  out.lnfB = p.lnfB;
  return out;
};

/** Flatten LM params to named variables (wte, wpe + body). Order is stable. */
export const lmVariables = (p: LMParams): Record<string, tf.Variable> => ({ wte: p.wte, wpe: p.wpe, ...bodyVariables(p) });

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
/** Keys/values of past positions, per layer: (B, nh, Tpast, hs). Owned by the caller. */
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
}
// Type aliases (not interfaces) so results can be returned from tf.tidy.
export type BodyOutput = { hidden: tf.Tensor3D; kvCache?: KVCache };

const dropout = (x: tf.Tensor, rate: number, opts: ForwardOptions, ...site: number[]): tf.Tensor =>
  opts.training && rate > 0 ? tf.dropout(x, rate, undefined, deriveSeed(opts.seed ?? 0, ...site)) : x;

/** One pre-LN block: x + attn(ln1(x)); x + mlp(ln2(x)). x (B, T, C). */
const block = (
  b: BlockParams, c: LMConfig, l: number, x: tf.Tensor3D, opts: ForwardOptions, past?: { k: tf.Tensor4D; v: tf.Tensor4D },
): { y: tf.Tensor3D; k: tf.Tensor4D; v: tf.Tensor4D } => {
  const o = ops();
  const [B, T, C] = x.shape;
  const nh = c.nHeads;
  const hs = C / nh;
  const h = o.layerNorm(x, b.ln1G as tf.Tensor1D, b.ln1B as tf.Tensor1D);
  const qkv = o.linear(h, b.attnW as tf.Tensor2D, b.attnB as tf.Tensor1D); // (B, T, 3C)
  // (B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs)
  const heads = (t: tf.Tensor) => t.reshape([B, T, nh, hs]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  const [q, kNew, vNew] = tf.split(qkv, 3, -1).map(heads);
  const k = past ? (tf.concat([past.k, kNew], 2) as tf.Tensor4D) : kNew; // (B, nh, Tpast + T, hs)
  const v = past ? (tf.concat([past.v, vNew], 2) as tf.Tensor4D) : vNew;
  const att = o.causalAttention(q, k, v, opts.keyBias); // (B, nh, T, hs)
  const merged = att.transpose([0, 2, 1, 3]).reshape([B, T, C]); // (B, nh, T, hs) -> (B, T, C)
  const proj = o.linear(merged, b.projW as tf.Tensor2D, b.projB as tf.Tensor1D);
  const x1 = tf.add(x, dropout(proj, c.dropout, opts, l, 1)) as tf.Tensor3D;
  const h2 = o.layerNorm(x1, b.ln2G as tf.Tensor1D, b.ln2B as tf.Tensor1D);
  const fc = o.gelu(o.linear(h2, b.fcW as tf.Tensor2D, b.fcB as tf.Tensor1D)); // (B, T, M)
  const mlp = o.linear(fc, b.fc2W as tf.Tensor2D, b.fc2B as tf.Tensor1D); // (B, T, C)
  return { y: tf.add(x1, dropout(mlp, c.dropout, opts, l, 2)) as tf.Tensor3D, k, v };
};

/**
 * The transformer body on already-embedded inputs x (B, T, C): blocks then the final LayerNorm.
 * Returns hidden (B, T, C) and, with useCache/kvCache, the keys/values of all positions.
 */
export const transformerBody = (p: BodyParams, c: LMConfig, x: tf.Tensor3D, opts: ForwardOptions = {}): BodyOutput => {
  const wantCache = opts.useCache || opts.kvCache !== undefined;
  const ks: tf.Tensor4D[] = [];
  const vs: tf.Tensor4D[] = [];
  let h = x;
  p.blocks.forEach((b, l) => {
    const past = opts.kvCache ? { k: opts.kvCache.k[l], v: opts.kvCache.v[l] } : undefined;
    const out = block(b, c, l, h, opts, past);
    h = out.y;
    ks.push(out.k);
    vs.push(out.v);
  });
  const hidden = ops().layerNorm(h, p.lnfG as tf.Tensor1D, p.lnfB as tf.Tensor1D) as tf.Tensor3D;
  return wantCache ? { hidden, kvCache: { k: ks, v: vs } } : { hidden };
};

/** Token + position embedding: ids (B, T) -> (B, T, C). */
export const embed = (p: Pick<LMParams, "wte" | "wpe">, c: LMConfig, ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D => {
  const [, T] = ids.shape;
  const past = kvCacheLength(opts.kvCache);
  if (!opts.positions && past + T > c.contextLength)
    throw new ConfigError({ field: "contextLength", message: `sequence of ${past + T} tokens exceeds contextLength ${c.contextLength}` });
  const tok = tf.gather(p.wte, tf.cast(ids, "int32")); // (B, T, C)
  const pos = opts.positions
    ? tf.gather(p.wpe, tf.cast(opts.positions, "int32")) // (B, T, C)
    : tf.gather(p.wpe, tf.range(past, past + T, 1, "int32")); // (T, C), broadcast over B
  return dropout(tf.add(tok, pos), c.dropout, opts, 1 << 20) as tf.Tensor3D;
};

/** Tied output head: hidden (B, T, C) -> logits (B, T, V) = hidden wte^T. */
export const lmHead = (p: Pick<LMParams, "wte">, hidden: tf.Tensor3D): tf.Tensor3D => {
  const [B, T, C] = hidden.shape;
  return tf.matMul(hidden.reshape([B * T, C]), p.wte, false, true).reshape([B, T, -1]) as tf.Tensor3D;
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
