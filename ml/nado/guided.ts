// NADO-guided decoding as a LanguageModel (docs/method.md §2, §5 "NADO decoding"): generate from
// q(v|h) ∝ p(v|h) R_φ(h ⊕ v)^α and score continuations under q, so every evaluation can use it.
import * as tf from "@tensorflow/tfjs";
import type { TokenScorer } from "../eval/perplexity.ts";
import { type LMConfig, type LMParams, lmForward } from "../lm.ts";
import { type LanguageModel, plainLanguageModel } from "../languageModel.ts";
import type { TextTokenizer } from "../tokenizer.ts";
import { guidedLogProbs } from "./losses.ts";
import { type NadoConfig, type NadoParams, nadoForward, nadoOnBase } from "./model.ts";
import { guidedTokenLogProbs } from "./score.ts";

/**
 * z at the last position of each (unpadded) sequence: (B, V). One forward per row (rows differ in
 * length); a NADO that reads the base's hidden states gets them from a base forward over the same window.
 */
const lastZ = (nado: NadoParams, cfg: NadoConfig, seqs: number[][], base: { params: LMParams; config: LMConfig }): tf.Tensor2D =>
  tf.concat(seqs.map((s) => {
    const ids = tf.tensor2d([s.slice(Math.max(0, s.length - cfg.body.contextLength))], undefined, "int32");
    const T = ids.shape[1];
    const z = cfg.baseHidden ? nadoOnBase(nado, cfg, ids, lmForward(base.params, base.config, ids)) : nadoForward(nado, cfg, ids);
    return z.slice([0, T - 1, 0], [1, 1, -1]).reshape([1, -1]);
  })) as tf.Tensor2D;

/**
 * The generateIds hook: replaces base logits (B, V) by log q (B, V). The sampler then applies its
 * temperature / top-p to q. `base` is the model being guided (its hidden states feed a NADO that reads them).
 */
export const nadoLogitsProcessor = (nado: NadoParams, cfg: NadoConfig, alpha: number, base: { params: LMParams; config: LMConfig }) =>
  (seqs: number[][], logits: tf.Tensor2D): tf.Tensor2D => guidedLogProbs(logits, lastZ(nado, cfg, seqs, base), alpha) as tf.Tensor2D;

/**
 * A LanguageModel over q. generate: the base sampler with the NADO logits processor. logLikelihood:
 * exact log q of the continuation (guidedTokenLogProbs, batched), the context cut from the left so that
 * BOS ⊕ context ⊕ continuation fits the context window; greedyMatch: argmax of q reproduces it.
 */
export const nadoLanguageModel = (
  base: LMParams, baseCfg: LMConfig, nado: NadoParams, cfg: NadoConfig, tok: TextTokenizer, o: { alpha?: number; batchSize?: number } = {},
): LanguageModel => {
  const alpha = o.alpha ?? 1;
  const sampler = plainLanguageModel(base, baseCfg, tok, { batchSize: o.batchSize, logitsProcessor: nadoLogitsProcessor(nado, cfg, alpha, { params: base, config: baseCfg }) });
  return {
    generate: sampler.generate,
    logLikelihood: async (reqs) => {
      const seqs = reqs.map((r) => {
        const cont = tok.encode(r.continuation);
        const all = [...tok.encode(r.context, { bos: true }), ...cont];
        return { seq: all.slice(Math.max(0, all.length - (baseCfg.contextLength + 1))), n: cont.length };
      });
      const scored = guidedTokenLogProbs({ params: base, config: baseCfg }, nado, cfg, alpha, seqs.map((s) => s.seq), o.batchSize ?? 16);
      return scored.map(({ lp, greedy }, i) => {
        const n = seqs[i].n;
        return { logprob: lp.slice(lp.length - n).reduce((a, b) => a + b, 0), tokens: n, greedyMatch: greedy.slice(greedy.length - n).every(Boolean) };
      });
    },
  };
};

/** A TokenScorer (perplexity windows) under q, as lmTokenScorer is one under p. */
export const nadoTokenScorer = (
  base: LMParams, baseCfg: LMConfig, nado: NadoParams, cfg: NadoConfig, tok: TextTokenizer, o: { alpha?: number; batchSize?: number } = {},
): TokenScorer => ({
  windowLength: baseCfg.contextLength + 1,
  bos: tok.bos,
  encode: (t) => tok.encode(t),
  tokenLogProbs: (ws) => guidedTokenLogProbs({ params: base, config: baseCfg }, nado, cfg, o.alpha ?? 1, ws, o.batchSize ?? 16).map((r) => r.lp),
});
