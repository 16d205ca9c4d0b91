// NADO models on disk: a checkpoint directory (ml/checkpoint.ts) whose config is the NadoConfig, whose
// params are the NADO variables (ml/nado/model.ts) and whose meta.kind is "nado".
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { loadCheckpoint, saveCheckpoint } from "../checkpoint.ts";
import { CheckpointError } from "../errors.ts";
import { assignVariables, disposeParams } from "../lm.ts";
import { type NadoConfig, type NadoParams, initNado, nadoVariables } from "./model.ts";

/** Save R_φ (variables, config, and `meta` with kind "nado") into `dir`. */
export const saveNadoCheckpoint = (dir: string, n: { params: NadoParams; cfg: NadoConfig }, meta: Record<string, unknown> = {}): Promise<void> =>
  saveCheckpoint(dir, { config: n.cfg, params: nadoVariables(n.params), meta: { kind: "nado", ...meta } });

/** Load a NADO saved by saveNadoCheckpoint into fresh variables; another kind of checkpoint, or parameters that do not fit the config, is a CheckpointError. */
export const loadNadoCheckpoint = async (dir: string): Promise<{ params: NadoParams; cfg: NadoConfig }> => {
  const d = await loadCheckpoint(dir);
  try {
    if (d.meta?.kind !== "nado")
      throw new CheckpointError({ path: dir, message: `${dir} is not a NADO checkpoint (meta.kind ${JSON.stringify(d.meta?.kind)?.slice(0, 200)}); pass the output of a nado stage` });
    const cfg = d.config as NadoConfig;
    const params = initNado(cfg, 0, 0);
    try { assignVariables(nadoVariables(params), d.params); } catch (e) {
      disposeParams(nadoVariables(params));
      throw new CheckpointError({ path: join(dir, "tensors.bin"), message: `NADO checkpoint parameters do not fit its config: ${(e as Error).message.slice(0, 200)}` });
    }
    return { params, cfg };
  } finally {
    tf.dispose(Object.values(d.params));
  }
};
