// Token rows → training micro-batches, the one packer of every training loss over token sequences:
// LM pretraining / SFT / regularised fine-tuning (drawBatch over text examples), NADO training
// (prompt ⊕ continuation samples) and RL rollouts. Plain arrays only: the loss closure turns them into
// tensors inside the training loop's gradient scope, so a batch never owns a tensor.
//
//   sequence  = [BOS] ⊕ prompt ⊕ text                      (prompt: context only, never a target)
//   ids (B, T+1): a window of ≤ T+1 tokens, right-padded with PAD
//   mask (B, T): 1 where target ids[:, t+1] is a text token of the window, 0 on prompt and padding
//   reg  (B, T): mask · [example is in D_reg]               (the regulariser's per-token selector)
// Sequences longer than T+1 are cut to a window starting at a seeded random offset (a fresh window
// each time the example is drawn), so long documents are covered over the steps; prompted examples
// keep their last window (their targets are at the end).
// No EOS is appended: every evaluation and sampler stops at EOS, and a model trained to end each short
// statement with EOS answers a statement prompt (the ToxiGen protocol) with an empty continuation. As in
// LM pretraining on a document stream, the models here never learn to stop; generation is capped by
// maxNewTokens instead.
import type { TextTokenizer } from "./tokenizer.ts";
import { deriveSeed, makeRng } from "./prng.ts";

export interface TextExample {
  readonly text: string;
  /** Context that precedes `text` and is not trained on (e.g. a classification prompt). */
  readonly prompt?: string;
  /** In D_reg: the regulariser applies to this example's targets. */
  readonly regularise?: boolean;
}

export interface EncodedExample {
  readonly ids: readonly number[];
  /** Index in `ids` of the first token that is a target (1 + prompt length). */
  readonly targetFrom: number;
  readonly regularise: boolean;
}

export interface TokenBatch {
  readonly B: number;
  readonly T: number;
  readonly ids: Int32Array; // (B, T+1)
  readonly mask: Float32Array; // (B, T)
  readonly reg: Float32Array; // (B, T)
}

export const encodeExamples = (tok: TextTokenizer, examples: readonly TextExample[]): EncodedExample[] =>
  examples.map((e) => {
    const prompt = e.prompt ? tok.encode(e.prompt) : [];
    return { ids: [tok.bos, ...prompt, ...tok.encode(e.text)], targetFrom: 1 + prompt.length, regularise: e.regularise ?? false };
  });

/** One row to pack: its tokens, the first index of `ids` that is a target, and whether it is in D_reg. */
export interface PackRow {
  readonly ids: readonly number[];
  /** ids[t] is a target when t ≥ targetFrom (≤ 1: every token after the first). */
  readonly targetFrom: number;
  readonly regularise?: boolean;
}

/**
 * Rows → a TokenBatch: ids (B, T+1) right-padded with `pad`, T = the longest row − 1 (at least 1);
 * mask[b, t] = 1 where target ids[b, t+1] is a token of the row at index ≥ targetFrom; reg = mask on
 * D_reg rows. Padding only follows a row's tokens, so causal attention never lets it reach a target.
 */
export const packRows = (rows: readonly PackRow[], pad: number): TokenBatch => {
  const B = rows.length;
  const T = Math.max(1, ...rows.map((r) => r.ids.length - 1));
  const ids = new Int32Array(B * (T + 1)).fill(pad);
  const mask = new Float32Array(B * T);
  const reg = new Float32Array(B * T);
  rows.forEach((r, b) => {
    ids.set(r.ids, b * (T + 1));
    for (let t = 0; t < r.ids.length - 1; t++) {
      // target position t predicts ids[t + 1]
      const m = t + 1 >= r.targetFrom ? 1 : 0;
      mask[b * T + t] = m;
      reg[b * T + t] = r.regularise ? m : 0;
    }
  });
  return { B, T, ids, mask, reg };
};

/**
 * The micro-batch of a (seed, step, micro): `batchSize` examples drawn uniformly with replacement,
 * each cut to a window of at most T+1 tokens; T = the longest window (≤ contextLength).
 */
export const drawBatch = (data: readonly EncodedExample[], batchSize: number, contextLength: number, pad: number, seed: number, step: number, micro = 0): TokenBatch => {
  const rng = makeRng(deriveSeed(seed, step, micro));
  const rows = Array.from({ length: batchSize }, (): PackRow => {
    const e = data[Math.floor(rng.next() * data.length)];
    const maxStart = Math.max(0, e.ids.length - (contextLength + 1));
    // Prompted examples keep their end (the targets follow the prompt); others get a random window.
    const u = rng.next();
    const start = e.targetFrom > 1 ? maxStart : Math.floor(u * (maxStart + 1));
    return { ids: e.ids.slice(start, start + contextLength + 1), targetFrom: e.targetFrom - start, regularise: e.regularise };
  });
  return packRows(rows, pad);
};
