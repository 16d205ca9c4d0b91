// LoRA adapters in PEFT's format <-> acft's LoraParams (ml/lora.ts).
//
// A PEFT adapter directory holds adapter_config.json (peft_type "LORA", r, lora_alpha, lora_dropout,
// target_modules, fan_in_fan_out, ...) and adapter_model.safetensors with, for every adapted module,
//   base_model.model.<module path>.lora_A.weight  (r, in)
//   base_model.model.<module path>.lora_B.weight  (out, r)
// in nn.Linear layout for every family: GPT-2's Conv1D modules differ only in fan_in_fan_out = true,
// which tells PEFT to transpose the update when merging into their (in, out) weights. acft stores
// Aᵀ and Bᵀ; this file transposes. The update is (lora_alpha / r)·B A, or lora_alpha / √r with
// use_rslora. PEFT features acft does not implement (DoRA, trained biases, per-module rank or alpha
// patterns, layer selection, modules_to_save) are ModelFormatErrors naming the config field.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, ModelFormatError } from "../errors.ts";
import type { LMConfig } from "../lm.ts";
import { type LoraParams, loraFromValues, loraTargets } from "../lora.ts";
import { lmConfigToHf } from "./hf.ts";
import { type HostTensor, readSafetensorsFloat32, writeSafetensors } from "./safetensors.ts";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";

/** PEFT's saved tensor name of a module's factor. */
export const peftTensorName = (module: string, factor: "A" | "B"): string => `base_model.model.${module}.lora_${factor}.weight`;

const cut = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}...` : s);

const transpose = (d: ArrayLike<number>, rows: number, cols: number): Float32Array => {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = d[r * cols + c];
  return out;
};

/** An adapter as PEFT's adapter_config.json fields and tensors (PEFT layout), for a model of `config`. */
export const loraToPeft = (p: LoraParams, config: LMConfig, extraConfig: Record<string, unknown> = {}): { config: Record<string, unknown>; tensors: Map<string, HostTensor> } => {
  const { family } = lmConfigToHf(config);
  const s = p.settings;
  const tensors = new Map<string, HostTensor>();
  for (const m of p.modules) {
    tensors.set(peftTensorName(m.module, "A"), { shape: [s.rank, m.inFeatures], data: transpose(m.a.dataSync(), m.inFeatures, s.rank) });
    tensors.set(peftTensorName(m.module, "B"), { shape: [m.width, s.rank], data: transpose(m.b.dataSync(), s.rank, m.width) });
  }
  return {
    config: {
      peft_type: "LORA", task_type: "CAUSAL_LM", base_model_name_or_path: null,
      r: s.rank, lora_alpha: s.alpha, lora_dropout: s.dropout,
      target_modules: typeof s.targetModules === "string" ? s.targetModules : [...s.targetModules],
      fan_in_fan_out: family === "gpt2", bias: "none", use_rslora: s.rslora === true, use_dora: false,
      init_lora_weights: true, inference_mode: true, modules_to_save: null, layers_to_transform: null,
      layers_pattern: null, rank_pattern: {}, alpha_pattern: {},
      ...extraConfig,
    },
    tensors,
  };
};

/** Write an adapter as a PEFT directory (adapter_config.json + adapter_model.safetensors, F32). */
export const writePeftAdapter = async (dir: string, p: LoraParams, config: LMConfig, extraConfig: Record<string, unknown> = {}): Promise<void> => {
  const peft = loraToPeft(p, config, extraConfig);
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS), peft.tensors, { format: "pt" });
  await writeFile(join(dir, `${ADAPTER_CONFIG}.tmp`), `${JSON.stringify(peft.config, null, 2)}\n`);
  await rename(join(dir, `${ADAPTER_CONFIG}.tmp`), join(dir, ADAPTER_CONFIG));
};

/** Fields whose non-default values describe PEFT features acft does not implement, and the default. */
const UNSUPPORTED: [field: string, isDefault: (v: unknown) => boolean, what: string][] = [
  ["use_dora", (v) => !v, "DoRA"],
  ["bias", (v) => v === undefined || v === "none", "trained biases"],
  ["lora_bias", (v) => !v, "a bias on lora_B"],
  ["modules_to_save", (v) => v == null || (Array.isArray(v) && v.length === 0), "fully trained extra modules"],
  ["layers_to_transform", (v) => v == null, "a layer selection"],
  ["rank_pattern", (v) => v == null || (typeof v === "object" && Object.keys(v as object).length === 0), "per-module ranks"],
  ["alpha_pattern", (v) => v == null || (typeof v === "object" && Object.keys(v as object).length === 0), "per-module alphas"],
  ["exclude_modules", (v) => v == null || (Array.isArray(v) && v.length === 0), "excluded modules"],
  ["target_parameters", (v) => v == null || (Array.isArray(v) && v.length === 0), "adapters on parameters"],
  ["trainable_token_indices", (v) => v == null, "trainable token embeddings"],
  ["layer_replication", (v) => v == null, "layer replication"],
];

/**
 * An adapter from PEFT's adapter_config.json fields and tensors, for a model of `config` (`source`
 * names the directory in errors). Every targeted module needs lora_A (r, in) and lora_B (out, r); no
 * other tensor may be present.
 */
export const peftToLora = (cfg: Record<string, unknown>, tensors: Map<string, HostTensor>, config: LMConfig, source: string): LoraParams => {
  const file = join(source, ADAPTER_CONFIG);
  const bad = (field: string, message: string) => new ModelFormatError({ file, field, message: `${file}: ${message}` });
  if (cfg.peft_type !== "LORA") throw bad("peft_type", `peft_type is ${cut(JSON.stringify(cfg.peft_type))}; acft reads LoRA adapters ("LORA") only`);
  for (const [field, ok, what] of UNSUPPORTED)
    if (!ok(cfg[field])) throw bad(field, `"${field}" is ${cut(JSON.stringify(cfg[field]))}: ${what}, which acft's LoRA does not implement; train the adapter without it`);
  const r = cfg.r, alpha = cfg.lora_alpha, dropout = cfg.lora_dropout ?? 0;
  if (!(Number.isInteger(r) && (r as number) > 0)) throw bad("r", `"r" must be a positive integer, got ${cut(JSON.stringify(r))}`);
  if (!(typeof alpha === "number" && alpha > 0)) throw bad("lora_alpha", `"lora_alpha" must be a positive number, got ${cut(JSON.stringify(alpha))}`);
  if (!(typeof dropout === "number" && dropout >= 0 && dropout < 1)) throw bad("lora_dropout", `"lora_dropout" must be in [0, 1), got ${cut(JSON.stringify(dropout))}`);
  const targets = cfg.target_modules;
  if (!(typeof targets === "string" || (Array.isArray(targets) && targets.every((t) => typeof t === "string"))))
    throw bad("target_modules", `"target_modules" must be a list of module names or a string, got ${cut(JSON.stringify(targets))}`);
  const settings = { rank: r as number, alpha, dropout, targetModules: targets as string[] | string, rslora: cfg.use_rslora === true };
  let modules;
  try {
    modules = loraTargets(config, settings.targetModules);
  } catch (e) {
    if (e instanceof ConfigError) throw bad("target_modules", `${e.message}; is this adapter for another model?`);
    throw e;
  }
  const used = new Set<string>();
  const get = (module: string, f: "A" | "B", shape: number[]): Float32Array => {
    const name = peftTensorName(module, f);
    const t = tensors.get(name);
    const where = join(source, ADAPTER_WEIGHTS);
    if (!t) throw new ModelFormatError({ file: where, tensor: name, message: `${where}: tensor "${name}" is missing although target_modules selects ${module}; the adapter is incomplete or for another model` });
    if (t.shape.join(",") !== shape.join(","))
      throw new ModelFormatError({ file: where, tensor: name, message: `${where}: tensor "${name}" has shape [${t.shape}], expected [${shape}] (r ${r}); the adapter is for another model or r is wrong in ${ADAPTER_CONFIG}` });
    used.add(name);
    return t.data;
  };
  const values = new Map(modules.map((m) => [m.module, {
    a: transpose(get(m.module, "A", [r as number, m.inFeatures]), r as number, m.inFeatures),
    b: transpose(get(m.module, "B", [m.width, r as number]), m.width, r as number),
  }]));
  const extra = [...tensors.keys()].filter((k) => !used.has(k));
  if (extra.length > 0) {
    const where = join(source, ADAPTER_WEIGHTS);
    throw new ModelFormatError({ file: where, tensor: extra[0], message: `${where}: unexpected tensor "${cut(extra[0])}"${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ""}; target_modules does not select its module, or it is not a LoRA factor acft reads` });
  }
  return loraFromValues(config, settings, (m) => values.get(m.module)!);
};

/** Read a PEFT LoRA adapter directory for a model of `config`. */
export const readPeftAdapter = async (dir: string, config: LMConfig): Promise<LoraParams> => {
  const file = join(dir, ADAPTER_CONFIG);
  let cfg: unknown;
  try {
    cfg = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new ModelFormatError({ file, message: `cannot read ${file} (${cut((e as Error).message)}); a PEFT adapter directory holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}` });
  }
  if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg)) throw new ModelFormatError({ file, message: `${file} is not a JSON object` });
  return peftToLora(cfg as Record<string, unknown>, await readSafetensorsFloat32(join(dir, ADAPTER_WEIGHTS)), config, dir);
};
