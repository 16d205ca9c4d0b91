// LoRA (Hu et al. 2021): a frozen linear projection W (in, out) plus a trained low-rank update,
//
//   y = x W + b + (α / r) · dropout(x) Aᵀ Bᵀ,   A (r, in), B (out, r),   W_eff = W + (α / r) · (B A)ᵀ
//
// on any of the blocks' linear projections, chosen by the module names PEFT users know (GPT-2:
// c_attn, c_proj, c_fc, mlp.c_proj; Llama/Qwen2: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
// down_proj). A module is targeted when its path equals a target or ends with "." + target (PEFT's
// rule), so GPT-2's "c_proj" means both attn.c_proj and mlp.c_proj. acft fuses q|k|v into attnW and
// gate|up into fcW: an adapter on q_proj adds to the q columns only.
// Init as PEFT's default: A kaiming-uniform (a = √5, i.e. U(±1/√in)), B = 0, so the adapted model
// starts equal to the base. Only the adapter's variables train (train() is given loraVariables); the
// base enters the forward pass through `loraAdapter` (the ForwardOptions hook) as a constant, so no
// gradient or optimizer state is made for it. `mergeLora` folds the update into the weights.
// Stored here transposed, as acft's weights are: a = Aᵀ (in, r), b = Bᵀ (r, out); PEFT's layout is
// written and read by ml/formats/peft.ts.
import * as tf from "@tensorflow/tfjs";
import { ConfigError, check } from "./errors.ts";
import { type LinearModule, linearModules, lmConfigToHf } from "./formats/hf.ts";
import type { LinearAdapter, LinearSite, LMConfig, LMParams } from "./lm.ts";
import { deriveSeed, makeRng } from "./prng.ts";

/** What to adapt and how: PEFT's LoraConfig fields r, lora_alpha, lora_dropout, target_modules. */
export interface LoraSettings {
  readonly rank: number;
  readonly alpha: number;
  /** Dropout on the adapter's input while training (PEFT's lora_dropout). */
  readonly dropout: number;
  /**
   * Module names (matched as suffixes of the module path), or one string: "all-linear" (every block
   * projection) or a regular expression the whole module path must match (as PEFT).
   */
  readonly targetModules: readonly string[] | string;
  /** rsLoRA (PEFT's use_rslora): scale α / √r instead of α / r. */
  readonly rslora?: boolean;
}

/** One adapted module: where it sits in acft's weights and its two factors. */
export interface LoraModule extends LinearModule {
  /** Aᵀ (in, r). */
  readonly a: tf.Variable;
  /** Bᵀ (r, width). */
  readonly b: tf.Variable;
}

export interface LoraParams {
  readonly settings: LoraSettings;
  /** α / r (α / √r with rsLoRA). */
  readonly scale: number;
  readonly modules: readonly LoraModule[];
}

/** PEFT's default targets per family (its TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export const defaultTargetModules = (config: LMConfig): string[] =>
  lmConfigToHf(config).family === "gpt2" ? ["c_attn"] : ["q_proj", "v_proj"];

const cut = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}...` : s);

/** The block projections `targets` selects, in model order; a target that selects nothing is an error. */
export const loraTargets = (config: LMConfig, targets: LoraSettings["targetModules"]): LinearModule[] => {
  const all = linearModules(config);
  const names = [...new Set(all.map((m) => m.module.replace(/^.*\.(\d+)\./, "")))];
  if (typeof targets === "string") {
    if (targets === "all-linear") return all;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${targets})$`);
    } catch (e) {
      throw new ConfigError({ field: "targetModules", message: `LoRA target_modules ${cut(JSON.stringify(targets))} is not a valid regular expression (${cut((e as Error).message)})` });
    }
    const hit = all.filter((m) => re.test(m.module));
    check(hit.length > 0, "targetModules", `LoRA target_modules ${cut(JSON.stringify(targets))} matches no module; module paths look like ${cut(all[0]?.module ?? "")} (names: ${names.join(", ")})`);
    return hit;
  }
  check(targets.length > 0, "targetModules", `LoRA needs at least one target module (names: ${names.join(", ")}, or "all-linear")`);
  for (const t of targets)
    check(all.some((m) => m.module === t || m.module.endsWith(`.${t}`)), "targetModules",
      `LoRA target module ${cut(JSON.stringify(t))} names no linear projection of this model; its module names are ${names.join(", ")}`);
  return all.filter((m) => targets.some((t) => m.module === t || m.module.endsWith(`.${t}`)));
};

export const validateLoraSettings = (s: LoraSettings): void => {
  check(Number.isInteger(s.rank) && s.rank >= 1, "rank", `LoRA rank must be an integer >= 1, got ${s.rank}`);
  check(s.alpha > 0, "alpha", `LoRA alpha must be > 0, got ${s.alpha}`);
  check(s.dropout >= 0 && s.dropout < 1, "dropout", `LoRA dropout must be in [0, 1), got ${s.dropout}`);
};

let instance = 0;

/**
 * Adapter factors from values: `a` (in, r) and `b` (r, width) per module path (row-major float32).
 * Every targeted module needs both; used by initLora and the PEFT reader.
 */
export const loraFromValues = (
  config: LMConfig, settings: LoraSettings, values: (m: LinearModule) => { a: Float32Array; b: Float32Array },
): LoraParams => {
  validateLoraSettings(settings);
  const scale = settings.alpha / (settings.rslora ? Math.sqrt(settings.rank) : settings.rank);
  const prefix = `lora${instance++}/`;
  const r = settings.rank;
  const modules: LoraModule[] = [];
  try {
    for (const m of loraTargets(config, settings.targetModules)) {
      const v = values(m);
      modules.push({ ...m,
        a: tf.variable(tf.tensor2d(v.a, [m.inFeatures, r]), true, `${prefix}${m.module}.lora_A`),
        b: tf.variable(tf.tensor2d(v.b, [r, m.width]), true, `${prefix}${m.module}.lora_B`) });
    }
  } catch (e) {
    disposeLora({ settings, scale, modules });
    throw e;
  }
  return { settings, scale, modules };
};

/** A fresh adapter: A ~ U(−1/√in, 1/√in) (PEFT's kaiming_uniform_(a=√5)), B = 0; deterministic in `seed`. */
export const initLora = (config: LMConfig, settings: LoraSettings, seed: number): LoraParams =>
  loraFromValues(config, settings, (m) => {
    const rng = makeRng(deriveSeed(seed, m.layer, ["attnW", "projW", "fcW", "fc2W"].indexOf(m.site), m.col0));
    const bound = 1 / Math.sqrt(m.inFeatures);
    const r = settings.rank;
    const a = new Float32Array(m.inFeatures * r);
    // drawn in PEFT's A (r, in) order, stored transposed
    for (let k = 0; k < r; k++) for (let i = 0; i < m.inFeatures; i++) a[i * r + k] = (2 * rng.next() - 1) * bound;
    return { a, b: new Float32Array(r * m.width) };
  });

/** The trainable variables ("<module>.lora_A" = Aᵀ, "<module>.lora_B" = Bᵀ), in model order. */
export const loraVariables = (p: LoraParams): Record<string, tf.Variable> =>
  Object.fromEntries(p.modules.flatMap((m) => [[`${m.module}.lora_A`, m.a], [`${m.module}.lora_B`, m.b]]));

export const disposeLora = (p: LoraParams): void => {
  for (const m of p.modules) { m.a.dispose(); m.b.dispose(); }
};

/**
 * The ForwardOptions hook (ml/lm.ts `adapter`) that adds the adapters to the projections' outputs:
 * y + scale · dropout(x) a b on each adapted module's columns (zeros elsewhere). Dropout only with
 * opts.training, seeded from opts.seed and the module.
 */
export const loraAdapter = (p: LoraParams): LinearAdapter => {
  const bySite = new Map<string, LoraModule[]>();
  for (const m of p.modules) {
    const key = `${m.layer}.${m.site}`;
    bySite.set(key, [...(bySite.get(key) ?? []), m]);
  }
  const siteIndex: Record<LinearSite, number> = { attnW: 0, projW: 1, fcW: 2, fc2W: 3 };
  return (layer, site, x, y, opts) => {
    const mods = bySite.get(`${layer}.${site}`);
    if (!mods) return y;
    const out = y.shape[y.shape.length - 1];
    const lead = y.shape.slice(0, -1);
    const x2 = x.reshape([-1, x.shape[x.shape.length - 1]]) as tf.Tensor2D; // (N, in)
    const pieces: tf.Tensor[] = [];
    let at = 0;
    for (const m of [...mods].sort((u, v) => u.col0 - v.col0)) {
      if (m.col0 > at) pieces.push(tf.zeros([x2.shape[0], m.col0 - at]));
      const xin = opts.training && p.settings.dropout > 0
        ? tf.dropout(x2, p.settings.dropout, undefined, deriveSeed(opts.seed ?? 0, 1 << 21, layer, siteIndex[site], m.col0))
        : x2;
      pieces.push(tf.mul(tf.matMul(tf.matMul(xin, m.a), m.b), p.scale)); // (N, width)
      at = m.col0 + m.width;
    }
    if (at < out) pieces.push(tf.zeros([x2.shape[0], out - at]));
    const delta = pieces.length === 1 ? pieces[0] : tf.concat(pieces, 1);
    return tf.add(y, delta.reshape([...lead, out]));
  };
};

/** The update of one module in float64, (in, width) row-major: scale · a b. */
export const loraDelta = (m: LoraModule, scale: number): Float64Array => {
  const a = m.a.dataSync(), b = m.b.dataSync();
  const r = m.a.shape[1] as number, w = m.width;
  const d = new Float64Array(m.inFeatures * w);
  for (let i = 0; i < m.inFeatures; i++)
    for (let k = 0; k < r; k++) {
      const aik = a[i * r + k];
      if (aik === 0) continue;
      for (let j = 0; j < w; j++) d[i * w + j] += aik * b[k * w + j];
    }
  for (let i = 0; i < d.length; i++) d[i] *= scale;
  return d;
};

/**
 * Merge the adapters into the model's weights in place: W[:, col0 : col0 + width] += scale · a b,
 * summed in float64 and rounded once to float32. The adapter is left as it was (dispose it separately).
 */
export const mergeLora = (params: LMParams, p: LoraParams): void => {
  for (const m of p.modules) {
    const w = params.blocks[m.layer][m.site];
    const cols = w.shape[1] as number;
    const data = Float32Array.from(w.dataSync());
    const d = loraDelta(m, p.scale);
    for (let i = 0; i < m.inFeatures; i++)
      for (let j = 0; j < m.width; j++) data[i * cols + m.col0 + j] = data[i * cols + m.col0 + j] + d[i * m.width + j];
    tf.tidy(() => w.assign(tf.tensor2d(data, [m.inFeatures, cols])));
  }
};
