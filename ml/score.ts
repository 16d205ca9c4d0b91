// Per-token log-probabilities of a continuation given a context (multiple-choice scoring, held-out
// perplexity). Requests are sorted by length and batched; sequences are RIGHT-padded, which the
// causal mask makes harmless (padding only follows the tokens that are scored).
import * as tf from "@tensorflow/tfjs";
import { packRows } from "./batches.ts";
import { RequestError } from "./errors.ts";
import { type LMConfig, type LMParams, lmForward } from "./lm.ts";
import { tokenLogProbs } from "./ops.ts";

export interface ScoreRequest { context: number[]; continuation: number[] }
export interface ScoreResult {
  /** Sum of log p(continuation token | everything before it). */
  logprob: number;
  /** One log-probability per continuation token. */
  tokenLogprobs: number[];
  /** Whether greedy decoding would produce exactly this continuation. */
  greedyMatch: boolean;
  /** Context tokens dropped from the left to fit the context window. */
  truncated: number;
}

/** The scored window: inputs seq[:-1], continuation targets are its last n positions. */
const window = (r: ScoreRequest, i: number, c: LMConfig): { seq: number[]; truncated: number } => {
  const n = r.continuation.length;
  if (n === 0) throw new RequestError({ message: `score request ${i}: empty continuation` });
  if (r.context.length === 0) throw new RequestError({ message: `score request ${i}: empty context; start it with at least one token (e.g. BOS)` });
  if (n > c.contextLength) throw new RequestError({ message: `score request ${i}: continuation of ${n} tokens exceeds contextLength ${c.contextLength}` });
  const seq = [...r.context, ...r.continuation];
  const truncated = Math.max(0, seq.length - 1 - c.contextLength);
  return { seq: seq.slice(truncated), truncated };
};

/** Score one batch: seqs right-padded to T+1 (packRows). Returns (B, T) log-probs and argmax-matches. */
const scoreBatch = (p: LMParams, c: LMConfig, seqs: number[][]): { lp: number[][]; hit: number[][] } => {
  const { B, T, ids: packed } = packRows(seqs.map((ids) => ({ ids, targetFrom: 1 })), 0);
  return tf.tidy(() => {
    const ids = tf.tensor2d(packed, [B, T + 1], "int32");
    const inputs = ids.slice([0, 0], [B, T]) as tf.Tensor2D;
    const targets = ids.slice([0, 1], [B, T]).reshape([B * T]) as tf.Tensor1D;
    const logits = lmForward(p, c, inputs).logits.reshape([B * T, -1]) as tf.Tensor2D;
    const lp = tokenLogProbs(logits, targets).reshape([B, T]).arraySync() as number[][];
    const hit = tf.equal(tf.argMax(logits, -1), tf.cast(targets, "int32")).reshape([B, T]).arraySync() as number[][];
    return { lp, hit };
  });
};

/** Log-probabilities of each request's continuation. Order of results = order of requests. */
export const scoreContinuations = (p: LMParams, c: LMConfig, reqs: ScoreRequest[], opts: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {}): ScoreResult[] => {
  const bs = opts.batchSize ?? 16;
  const wins = reqs.map((r, i) => window(r, i, c));
  const order = wins.map((_, i) => i).sort((a, b) => wins[b].seq.length - wins[a].seq.length);
  const results: ScoreResult[] = new Array(reqs.length);
  for (let s = 0; s < order.length; s += bs) {
    const idx = order.slice(s, s + bs);
    const { lp, hit } = scoreBatch(p, c, idx.map((i) => wins[i].seq));
    idx.forEach((i, b) => {
      const len = wins[i].seq.length - 1;
      const n = reqs[i].continuation.length;
      const tokenLogprobs = lp[b].slice(len - n, len);
      results[i] = {
        logprob: tokenLogprobs.reduce((a, x) => a + x, 0),
        tokenLogprobs,
        greedyMatch: hit[b].slice(len - n, len).every((h) => h === 1),
        truncated: wins[i].truncated,
      };
    });
    opts.onProgress?.(Math.min(s + bs, order.length), order.length);
  }
  return results;
};
