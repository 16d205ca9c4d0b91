// Batched autoregressive generation with a KV cache. Prompts of different lengths are LEFT-padded
// to a common length L; padded keys are hidden with an additive key bias and each row's position
// ids start at 0 at its first real token, so a padded row computes exactly what it would alone.
import * as tf from "@tensorflow/tfjs";
import { RequestError } from "./errors.ts";
import {
  type KVCache, type KVSlots, type LinearAdapter, type LMConfig, type LMParams, disposeKVCache, embed, kvSlotsSupported, lmHead, transformerBody,
  writeKVSlot,
} from "./lm.ts";
import { MASKED } from "./ops.ts";
import { makeRng } from "./prng.ts";
import { type SamplingOptions, sampleToken } from "./sampling.ts";

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** A row stops after producing one of these (the stop token is not returned). */
  stopTokens?: number[];
  /** Id fed for padding (its embedding is masked out, so any valid id works). Default 0. */
  padId?: number;
  seed?: number;
  /** Use the KV cache (default true); false recomputes the whole sequence each step. */
  useCache?: boolean;
  /**
   * Modify next-token logits before sampling (NADO-guided decoding, bans, ...). Called inside
   * tf.tidy with the unpadded sequences so far (prompt + generated) and logits (B, V); return (B, V).
   */
  logitsProcessor?: (ids: number[][], logits: tf.Tensor2D, step: number) => tf.Tensor2D;
  onProgress?: (step: number, maxNewTokens: number) => void;
  /** Sample from the model with this projection hook (an unmerged LoRA adapter, ml/lora.ts loraAdapter). */
  adapter?: LinearAdapter;
}

interface Layout { L: number; pads: number[]; rows: number[][] }

/**
 * The part of a prompt generation conditions on: its last (contextLength − maxNewTokens) tokens, so that
 * prompt + new tokens fit the context. Callers that store or score prompt ⊕ continuation (NADO samples,
 * RL rollouts) cut their prompts with this too.
 */
export const fitPrompt = (prompt: readonly number[], c: LMConfig, maxNewTokens: number): number[] =>
  prompt.slice(Math.max(0, prompt.length - (c.contextLength - maxNewTokens)));

/** Left-pad prompts (truncated from the left so that prompt + maxNewTokens fits the context). */
const layout = (prompts: number[][], c: LMConfig, o: GenerateOptions): Layout => {
  if (!(o.maxNewTokens >= 1 && o.maxNewTokens < c.contextLength))
    throw new RequestError({ message: `maxNewTokens must be in [1, contextLength ${c.contextLength}), got ${o.maxNewTokens}` });
  const rows = prompts.map((p, i) => {
    if (p.length === 0) throw new RequestError({ message: `prompt ${i} is empty: start it with at least one token (e.g. BOS)` });
    return fitPrompt(p, c, o.maxNewTokens);
  });
  const L = Math.max(...rows.map((r) => r.length));
  return { L, pads: rows.map((r) => L - r.length), rows };
};

/**
 * Inputs for positions [from, to) of the padded sequences: ids, position ids, key bias for [0, to).
 * With `capacity` (KVSlots decoding) the key bias spans [0, capacity) and also hides [to, capacity).
 */
const inputs = (seqs: number[][], lay: Layout, from: number, to: number, padId: number, capacity?: number) => {
  const B = seqs.length;
  const ids = seqs.map((s, b) => Array.from({ length: to - from }, (_, j) => (from + j < lay.pads[b] ? padId : s[from + j - lay.pads[b]])));
  const pos = lay.pads.map((pad) => Array.from({ length: to - from }, (_, j) => Math.max(0, from + j - pad)));
  const Tk = capacity ?? to;
  const bias = new Float32Array(B * Tk);
  lay.pads.forEach((pad, b) => {
    bias.fill(MASKED, b * Tk, b * Tk + pad);
    bias.fill(MASKED, b * Tk + to, (b + 1) * Tk);
  });
  return {
    ids: tf.tensor2d(ids, [B, to - from], "int32"),
    positions: tf.tensor2d(pos, [B, to - from], "int32"),
    // no padding in the batch: no key bias needed (saves an add per layer and step)
    keyBias: capacity !== undefined || lay.pads.some((p) => p > 0) ? tf.tensor4d(bias, [B, 1, 1, Tk]) : undefined,
  };
};

/** Move a KV cache (B, nh, T, hs) per layer into zero-filled slots of `capacity` positions. */
const toSlots = (cache: KVCache, capacity: number): KVSlots => {
  const grow = (t: tf.Tensor4D): tf.Tensor4D => {
    const [B, nh, , hs] = t.shape;
    const s = tf.zeros([B, nh, capacity, hs], "float32") as tf.Tensor4D;
    writeKVSlot(s, t, 0);
    return s;
  };
  return { k: cache.k.map(grow), v: cache.v.map(grow), at: cache.k[0].shape[2] };
};

/** Generate up to maxNewTokens per prompt. Returns only the new tokens of each row. */
export const generateIds = (p: LMParams, c: LMConfig, prompts: number[][], o: GenerateOptions): number[][] => {
  if (prompts.length === 0) return [];
  const lay = layout(prompts, c, o);
  const rng = makeRng(o.seed ?? 0);
  const stops = new Set(o.stopTokens ?? []);
  const padId = o.padId ?? 0;
  const useCache = o.useCache ?? true;
  const seqs = lay.rows.map((r) => [...r]);
  const out: number[][] = prompts.map(() => []);
  const done = prompts.map(() => false);
  let cache: KVCache | undefined;
  let slots: KVSlots | undefined; // after the prompt, where supported: the cache written in place
  try {
    for (let step = 0; step < o.maxNewTokens && done.includes(false); step++) {
      const to = lay.L + step;
      const from = useCache && (cache || slots) ? to - 1 : 0;
      if (slots) slots.at = from;
      const { logits, kvCache } = tf.tidy(() => {
        const x = inputs(seqs, lay, from, to, padId, slots ? slots.k[0].shape[2] : undefined);
        const fo = slots
          ? { positions: x.positions, keyBias: x.keyBias, kvSlots: slots, adapter: o.adapter }
          : { positions: x.positions, keyBias: x.keyBias, kvCache: cache, useCache, adapter: o.adapter };
        const r = transformerBody(p, c, embed(p, c, x.ids, fo), fo);
        // only the last position's logits are needed: (B, T, C) -> (B, 1, C) -> head -> (B, V)
        let last = lmHead(p, r.hidden.slice([0, to - from - 1, 0], [-1, 1, -1]) as tf.Tensor3D).squeeze([1]) as tf.Tensor2D;
        if (o.logitsProcessor) last = o.logitsProcessor(seqs, last, step);
        return { logits: last, kvCache: r.kvCache };
      });
      disposeKVCache(cache);
      cache = useCache && !slots ? kvCache : undefined;
      if (cache && step === 0 && o.maxNewTokens > 1 && kvSlotsSupported()) {
        slots = toSlots(cache, lay.L + o.maxNewTokens - 1);
        disposeKVCache(cache);
        cache = undefined;
      }
      const V = logits.shape[1];
      const flat = logits.dataSync();
      logits.dispose();
      seqs.forEach((_, b) => {
        const row = flat.subarray(b * V, (b + 1) * V);
        if (done[b]) { seqs[b].push(padId); return; } // keep shapes; never read
        const tok = sampleToken(row, o, rng);
        seqs[b].push(tok);
        if (stops.has(tok)) done[b] = true;
        else out[b].push(tok);
      });
      o.onProgress?.(step + 1, o.maxNewTokens);
    }
  } finally {
    disposeKVCache(cache);
    disposeKVCache(slots);
  }
  return out;
};
