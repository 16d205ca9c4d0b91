// Versioned checkpoint directory (the caller chooses where):
//   checkpoint.json  header: magic, format version, config, caller meta, tensor index
//   tensors.bin      float32 little-endian values, concatenated in index order
// The header is checked on load (magic, version, byte length, shapes) with a hint on mismatch
// (llm.c habit). Files are written under temporary names and renamed, so a crash mid-save never
// leaves a half-written checkpoint behind the final names.
import * as tf from "@tensorflow/tfjs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";
import type { AdamWState } from "./adamw.ts";
import { CheckpointError } from "./errors.ts";
import { type LMConfig, type LMParams, lmFromValues, lmVariables, validateConfig } from "./lm.ts";
import type { TrainState } from "./train.ts";

export const CHECKPOINT_MAGIC = "ACFT-CKPT";
export const CHECKPOINT_VERSION = 1;
const HEADER = "checkpoint.json";
const DATA = "tensors.bin";

interface TensorEntry { name: string; shape: number[]; offset: number; length: number }
interface Header { magic: string; version: number; config: unknown; meta: Record<string, unknown>; optimizerT?: number; byteLength: number; tensors: TensorEntry[] }

export interface CheckpointData {
  /** Model config (validated as LMConfig by loadLM; any JSON for other models). */
  config: unknown;
  params: Record<string, tf.Tensor>;
  optimizer?: AdamWState;
  /** Caller metadata: step, history, tokenizer reference, stage version, ... (JSON). */
  meta?: Record<string, unknown>;
}

if (endianness() !== "LE") throw new Error("acft checkpoints assume a little-endian machine");

/** Write a checkpoint into `dir` (created if needed). Tensors stay owned by the caller. */
export const saveCheckpoint = async (dir: string, d: CheckpointData): Promise<void> => {
  const named: [string, tf.Tensor][] = [
    ...Object.entries(d.params).map(([k, t]) => [`params/${k}`, t] as [string, tf.Tensor]),
    ...Object.entries(d.optimizer?.m ?? {}).map(([k, t]) => [`adam.m/${k}`, t] as [string, tf.Tensor]),
    ...Object.entries(d.optimizer?.v ?? {}).map(([k, t]) => [`adam.v/${k}`, t] as [string, tf.Tensor]),
  ];
  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const [name, t] of named) {
    tensors.push({ name, shape: t.shape, offset, length: t.size });
    offset += t.size * 4;
  }
  const buf = new Float32Array(offset / 4);
  for (const [i, [, t]] of named.entries()) buf.set(await t.data(), tensors[i].offset / 4); // int tensors are converted to float32
  const header: Header = { magic: CHECKPOINT_MAGIC, version: CHECKPOINT_VERSION, config: d.config, meta: d.meta ?? {}, optimizerT: d.optimizer?.t, byteLength: offset, tensors };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${DATA}.tmp`), new Uint8Array(buf.buffer));
  await writeFile(join(dir, `${HEADER}.tmp`), JSON.stringify(header, null, 1));
  await rename(join(dir, `${DATA}.tmp`), join(dir, DATA));
  await rename(join(dir, `${HEADER}.tmp`), join(dir, HEADER));
};

const readHeader = async (dir: string): Promise<Header> => {
  const path = join(dir, HEADER);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new CheckpointError({ path, message: `no checkpoint at ${dir} (missing ${HEADER}); check the path or train/export the model first` });
  }
  let h: Partial<Header>;
  try { h = JSON.parse(text); } catch (e) {
    throw new CheckpointError({ path, message: `${path} is not valid JSON (${(e as Error).message}); the checkpoint is corrupt: delete it and re-run the stage` });
  }
  if (h.magic !== CHECKPOINT_MAGIC)
    throw new CheckpointError({ path, message: `${path} is not an acft checkpoint (magic ${JSON.stringify(h.magic)}, expected "${CHECKPOINT_MAGIC}")` });
  if (h.version !== CHECKPOINT_VERSION)
    throw new CheckpointError({ path, message: `${path} has checkpoint format version ${h.version}; this acft reads version ${CHECKPOINT_VERSION}: re-create it with this version (re-run the stage that wrote it)` });
  return h as Header;
};

/** Read a checkpoint; the returned tensors are owned by the caller. */
export const loadCheckpoint = async (dir: string): Promise<CheckpointData> => {
  const h = await readHeader(dir);
  const path = join(dir, DATA);
  let bytes: Buffer;
  try { bytes = await readFile(path); } catch {
    throw new CheckpointError({ path, message: `checkpoint ${dir} has a header but no ${DATA}; it is incomplete: delete it and re-run` });
  }
  if (bytes.length !== h.byteLength)
    throw new CheckpointError({ path, message: `${path} has ${bytes.length} bytes but its header expects ${h.byteLength}: the checkpoint is truncated or corrupt` });
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const groups: Record<string, Record<string, tf.Tensor>> = { params: {}, "adam.m": {}, "adam.v": {} };
  for (const e of h.tensors) {
    const slash = e.name.indexOf("/");
    const group = groups[e.name.slice(0, slash)];
    if (!group || e.length !== e.shape.reduce((a, b) => a * b, 1) || e.offset + e.length * 4 > h.byteLength)
      throw new CheckpointError({ path: join(dir, HEADER), message: `tensor index entry "${e.name}" is inconsistent; the checkpoint is corrupt` });
    group[e.name.slice(slash + 1)] = tf.tensor(all.subarray(e.offset / 4, e.offset / 4 + e.length), e.shape, "float32");
  }
  const optimizer = h.optimizerT !== undefined ? { t: h.optimizerT, m: groups["adam.m"], v: groups["adam.v"] } : undefined;
  return { config: h.config, params: groups.params, optimizer, meta: h.meta };
};

/** Save an LM (params + config + meta, e.g. `{ tokenizer: "tokenizer.json" }`). */
export const saveLM = (dir: string, p: LMParams, config: LMConfig, meta: Record<string, unknown> = {}): Promise<void> =>
  saveCheckpoint(dir, { config, params: lmVariables(p), meta });

/** Load an LM saved by saveLM (or by training hooks) into fresh variables. */
export const loadLM = async (dir: string): Promise<{ params: LMParams; config: LMConfig; meta: Record<string, unknown> }> => {
  const d = await loadCheckpoint(dir);
  try {
    let config: LMConfig;
    try { config = validateConfig(d.config); } catch (e) {
      throw new CheckpointError({ path: join(dir, HEADER), message: `checkpoint config is not an LM config: ${(e as Error).message}` });
    }
    let params: LMParams;
    try { params = lmFromValues(config, d.params); } catch (e) {
      throw new CheckpointError({ path: join(dir, DATA), message: `checkpoint parameters do not fit its config: ${(e as Error).message}` });
    }
    return { params, config, meta: d.meta ?? {} };
  } finally {
    tf.dispose([...Object.values(d.params), ...Object.values(d.optimizer?.m ?? {}), ...Object.values(d.optimizer?.v ?? {})]);
  }
};

/**
 * Checkpoint hooks for train(): save the full TrainState into `dir` every `every` steps, resume
 * from it if present. A missing checkpoint means a fresh start; a corrupt one is an error.
 */
export const trainCheckpointHooks = (dir: string, every: number, config: unknown, meta: Record<string, unknown> = {}) => ({
  every,
  save: (s: TrainState) => saveCheckpoint(dir, { config, params: s.params, optimizer: s.optimizer, meta: { ...meta, step: s.step, history: s.history } }),
  load: async (): Promise<TrainState | undefined> => {
    if (!existsSync(join(dir, HEADER))) return undefined;
    const d = await loadCheckpoint(dir);
    return { step: d.meta?.step as number, history: (d.meta?.history ?? []) as TrainState["history"], params: d.params, optimizer: d.optimizer ?? { t: 0, m: {}, v: {} } };
  },
});
