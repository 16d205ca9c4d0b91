// LoRA as stage params of the fine-tuning stages (sft, finetune): rank 0 (the default) is full
// fine-tuning; rank r > 0 trains only a LoRA adapter (ml/lora.ts) on the chosen modules. The stage's
// output stays a plain model directory with the adapter merged into the weights, so every downstream
// stage is unchanged; the adapter itself is saved beside it in PEFT's format (ml/formats/peft.ts),
// in <output>/adapter/.
import { join } from "node:path";
import { Schema } from "effect";
import { param } from "../engine/Params.ts";
import { writePeftAdapter } from "../ml/formats/peft.ts";
import type { LMConfig } from "../ml/lm.ts";
import { defaultTargetModules, disposeLora, type LoraParams, type LoraSettings } from "../ml/lora.ts";

export const ADAPTER_DIR = "adapter";

export const loraFields = {
  loraRank: param(Schema.Int.pipe(Schema.nonNegative()), 0, "LoRA rank r; 0 = full fine-tuning (every weight trains), r > 0 trains only a rank-r adapter, merged into the output"),
  loraAlpha: param(Schema.Number.pipe(Schema.positive()), 16, "LoRA alpha α: the update is (α/r)·BA"),
  loraDropout: param(Schema.Number.pipe(Schema.between(0, 0.9)), 0, "dropout on the LoRA adapters' input while training"),
  loraTargets: param(Schema.String, "auto",
    "modules LoRA adapts: comma-separated PEFT names (GPT-2: c_attn, c_proj, c_fc, mlp.c_proj; Llama/Qwen2: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj), all-linear, or auto (PEFT's default: c_attn; q_proj,v_proj)"),
};

export interface LoraStageParams { readonly loraRank: number; readonly loraAlpha: number; readonly loraDropout: number; readonly loraTargets: string }

/** The LoRA settings of a stage's params for a model of `config`; undefined for rank 0 (full fine-tuning). */
export const loraSettings = (p: LoraStageParams, config: LMConfig): LoraSettings | undefined => {
  if (p.loraRank === 0) return undefined;
  const t = p.loraTargets.trim();
  const targetModules = t === "auto" ? defaultTargetModules(config) : t === "all-linear" ? t : t.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return { rank: p.loraRank, alpha: p.loraAlpha, dropout: p.loraDropout, targetModules };
};

/** Save a trained (and merged) adapter beside the model in `outDir`/adapter (PEFT format); no adapter: nothing. */
export const saveAdapter = async (outDir: string, adapter: LoraParams | undefined, config: LMConfig): Promise<void> => {
  if (adapter) await writePeftAdapter(join(outDir, ADAPTER_DIR), adapter, config);
};

/** Dispose an adapter if there is one (safe to call twice). */
export const disposeAdapter = (adapter: LoraParams | undefined): void => {
  if (adapter) disposeLora(adapter);
};
