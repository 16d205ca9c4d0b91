// Token-level scoring under the NADO-guided q (docs/method.md §2): log q(x_t | x_<t) at every position of
// whole sequences in one batched forward of each model — what perplexity under q and batched
// multiple-choice scoring need; nadoLanguageModel and nadoTokenScorer (ml/nado/guided.ts) score through it.
import * as tf from "@tensorflow/tfjs";
import { packRows } from "../batches.ts";
import { type LMConfig, type LMParams, lmForward } from "../lm.ts";
import { guidedLogProbs, pickLast } from "./losses.ts";
import { type NadoConfig, type NadoParams, nadoOnBase } from "./model.ts";

/**
 * For each seq (≤ contextLength + 1 tokens): log q of seq[1..] and whether each token is q's argmax,
 * in batches of `batchSize` right-padded rows (padding only follows the scored tokens).
 */
export const guidedTokenLogProbs = (
  base: { params: LMParams; config: LMConfig }, nado: NadoParams, cfg: NadoConfig, alpha: number,
  seqs: readonly (readonly number[])[], batchSize = 16,
): { lp: number[]; greedy: boolean[] }[] => {
  const out: { lp: number[]; greedy: boolean[] }[] = [];
  for (let s = 0; s < seqs.length; s += batchSize) {
    const chunk = seqs.slice(s, s + batchSize);
    const { T, ids: packed } = packRows(chunk.map((ids) => ({ ids, targetFrom: 1 })), 0);
    const [lp, hit] = tf.tidy(() => {
      const all = tf.tensor2d(packed, [chunk.length, T + 1], "int32");
      const ids = all.slice([0, 0], [chunk.length, T]) as tf.Tensor2D;
      const targets = all.slice([0, 1], [chunk.length, T]) as tf.Tensor2D;
      const baseOut = lmForward(base.params, base.config, ids);
      const lq = guidedLogProbs(baseOut.logits, nadoOnBase(nado, cfg, ids, baseOut), alpha) as tf.Tensor3D; // (B, T, V)
      return [pickLast(lq, targets).arraySync() as number[][], tf.equal(tf.argMax(lq, -1), targets).arraySync() as number[][]];
    });
    chunk.forEach((q, b) => out.push({ lp: lp[b].slice(0, q.length - 1), greedy: hit[b].slice(0, q.length - 1).map((h) => h === 1) }));
  }
  return out;
};
