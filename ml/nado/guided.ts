// NADO-guided decoding as a LanguageModel (METHOD.md §2, §5 "NADO decoding"): generate from
// q(v|h) ∝ p(v|h) R_φ(h ⊕ v)^α and score continuations under q, so every evaluation can use it.
import * as tf from "@tensorflow/tfjs";
import { type LMConfig, type LMParams, lmForward } from "../lm.ts";
import { type LanguageModel, plainLanguageModel } from "../languageModel.ts";
import type { Tokenizer } from "../tokenizer.ts";
import { guidedLogProbs } from "./losses.ts";
import { type NadoConfig, type NadoParams, nadoForward } from "./model.ts";

/** z at the last position of each (unpadded) sequence: (B, V). One forward per row (rows differ in length). */
const lastZ = (nado: NadoParams, cfg: NadoConfig, seqs: number[][]): tf.Tensor2D =>
  tf.concat(seqs.map((s) => {
    const ids = s.slice(Math.max(0, s.length - cfg.body.contextLength));
    const z = nadoForward(nado, cfg, tf.tensor2d([ids], [1, ids.length], "int32"));
    return z.slice([0, ids.length - 1, 0], [1, 1, -1]).reshape([1, -1]);
  })) as tf.Tensor2D;

/**
 * The generateIds hook: replaces base logits (B, V) by log q (B, V). The sampler then applies its
 * temperature / top-p to q. Only id-input NADO models (no baseHidden) are supported here.
 */
export const nadoLogitsProcessor = (nado: NadoParams, cfg: NadoConfig, alpha = 1) =>
  (seqs: number[][], logits: tf.Tensor2D): tf.Tensor2D => {
    if (cfg.baseHidden) throw new Error("nadoLogitsProcessor: NADO models fed base hidden states are not supported in decoding");
    return guidedLogProbs(logits, lastZ(nado, cfg, seqs), alpha) as tf.Tensor2D;
  };

/** Σ_t log q(x_t | h_t) over the continuation, for BOS + context + continuation ids. */
const guidedLogprob = (base: LMParams, baseCfg: LMConfig, nado: NadoParams, cfg: NadoConfig, ids: number[], nCont: number, alpha: number): number =>
  tf.tidy(() => {
    const T = ids.length - 1;
    const inp = tf.tensor2d([ids.slice(0, T)], [1, T], "int32");
    const logq = guidedLogProbs(lmForward(base, baseCfg, inp).logits, nadoForward(nado, cfg, inp), alpha).reshape([T, -1]);
    const tg = tf.tensor1d(ids.slice(1), "int32");
    const picked = tf.sum(tf.mul(logq, tf.oneHot(tg, logq.shape[1]!)), -1).slice([T - nCont], [nCont]);
    return tf.sum(picked).dataSync()[0];
  });

/**
 * A LanguageModel over q. generate: the base sampler with the NADO logits processor.
 * logLikelihood: exact log q of the continuation (greedyMatch: argmax of q reproduces it).
 */
export const nadoLanguageModel = (
  base: LMParams, baseCfg: LMConfig, nado: NadoParams, cfg: NadoConfig, tok: Tokenizer, o: { alpha?: number; batchSize?: number } = {},
): LanguageModel => {
  const alpha = o.alpha ?? 1;
  const sampler = plainLanguageModel(base, baseCfg, tok, { batchSize: o.batchSize, logitsProcessor: nadoLogitsProcessor(nado, cfg, alpha) });
  return {
    generate: sampler.generate,
    logLikelihood: async (reqs) =>
      reqs.map((r) => {
        const ctx = tok.encode(r.context, { bos: true });
        const cont = tok.encode(r.continuation);
        const ids = [...ctx, ...cont];
        const logprob = guidedLogprob(base, baseCfg, nado, cfg, ids, cont.length, alpha);
        const greedy = tf.tidy(() => {
          const T = ids.length - 1;
          const inp = tf.tensor2d([ids.slice(0, T)], [1, T], "int32");
          const lq = guidedLogProbs(lmForward(base, baseCfg, inp).logits, nadoForward(nado, cfg, inp), alpha);
          return Array.from(tf.argMax(lq.reshape([T, -1]), -1).dataSync()).slice(T - cont.length);
        });
        return { logprob, tokens: cont.length, greedyMatch: greedy.every((t, i) => t === cont[i]) };
      }),
  };
};
