// The interface evaluations use (lm-evaluation-harness style): every model variant — base LM,
// fine-tuned LM, RL policy, NADO-guided sampler — implements it, so evaluations never know which.
import type * as tf from "@tensorflow/tfjs";
import { generateIds } from "./generate.ts";
import type { LMConfig, LMParams } from "./lm.ts";
import { deriveSeed } from "./prng.ts";
import type { SamplingOptions } from "./sampling.ts";
import { scoreContinuations } from "./score.ts";
import type { TextTokenizer } from "./tokenizer.ts";

export interface LogLikelihoodRequest { context: string; continuation: string }
export interface LogLikelihoodResult {
  /** log p(continuation | context), summed over the continuation's tokens. */
  logprob: number;
  /** Number of continuation tokens (for per-token normalisation / perplexity). */
  tokens: number;
  /** Whether greedy decoding from the context reproduces the continuation exactly. */
  greedyMatch: boolean;
}
export interface TextGenerationOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Cut each output at the first occurrence of any of these strings (EOS always stops). */
  stop?: string[];
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface LanguageModel {
  logLikelihood(reqs: LogLikelihoodRequest[]): Promise<LogLikelihoodResult[]>;
  generate(prompts: string[], opts: TextGenerationOptions): Promise<string[]>;
}

/** Cut `text` at the first occurrence of any stop string. */
export const cutAtStop = (text: string, stop: readonly string[] = []): string =>
  stop.reduce((t, s) => (s && t.includes(s) ? t.slice(0, t.indexOf(s)) : t), text);

export interface PlainLMOptions {
  /** Sequences per forward pass (default 16 for scoring, 32 for generation). */
  batchSize?: number;
  /** Forwarded to generateIds: modifies next-token logits (e.g. NADO guidance). */
  logitsProcessor?: (ids: number[][], logits: tf.Tensor2D, step: number) => tf.Tensor2D;
}

/**
 * A LanguageModel over a plain LM + tokenizer. Every context / prompt is prefixed with BOS (as the
 * training data is); the continuation is tokenised on its own, so its tokens are the same whatever
 * the context. Generation is batched in chunks; chunk i samples with seed deriveSeed(seed, i).
 */
export const plainLanguageModel = (p: LMParams, c: LMConfig, tok: TextTokenizer, o: PlainLMOptions = {}): LanguageModel => ({
  logLikelihood: async (reqs) => {
    const scored = scoreContinuations(
      p, c,
      reqs.map((r) => ({ context: tok.encode(r.context, { bos: true }), continuation: tok.encode(r.continuation) })),
      { batchSize: o.batchSize ?? 16 },
    );
    return scored.map((s) => ({ logprob: s.logprob, tokens: s.tokenLogprobs.length, greedyMatch: s.greedyMatch }));
  },
  generate: async (prompts, g) => {
    const bs = o.batchSize ?? 32;
    const out: string[] = [];
    for (let i = 0; i < prompts.length; i += bs) {
      const ids = generateIds(p, c, prompts.slice(i, i + bs).map((s) => tok.encode(s, { bos: true })), {
        ...g, seed: deriveSeed(g.seed ?? 0, i / bs), stopTokens: [tok.eos], padId: tok.pad, logitsProcessor: o.logitsProcessor, onProgress: undefined,
      });
      out.push(...ids.map((r) => cutAtStop(tok.decode(r), g.stop)));
      g.onProgress?.(out.length, prompts.length);
    }
    return out;
  },
});
