// Held-out perplexity, token level, with strided sliding windows over the model's context
// (the Hugging Face "perplexity of fixed-length models" scheme):
//   each document is encoded (BOS prepended when the scorer has one, so its first token is scored);
//   windows of ≤ windowLength tokens start every `stride` tokens; each window scores only the
//   targets no earlier window scored, so every token after the first is scored exactly once, and
//   once past the first window each scored token sees ≥ windowLength − stride tokens of context.
//   PPL = exp( Σ NLL / #scored tokens ), pooled over documents.
//   Bits per byte = Σ NLL / (ln 2 · #UTF-8 bytes of the documents): the same total over a unit no
//   tokenizer changes, so two models with different tokenizers compare on the same text (per-token
//   perplexities do not: a tokenizer with longer tokens has fewer, harder-to-predict ones).
// stride = windowLength − 1 is the cheapest (windows share one token: a window's first token has no
// prediction inside it, so a disjoint tiling would silently skip one target per window, as the
// Hugging Face recipe does at stride = max_length); the default stride is windowLength / 2.

import { perplexityFromNll } from "../metrics.ts";
import type { LMConfig, LMParams } from "../lm.ts";
import { scoreContinuations } from "../score.ts";
import type { TextTokenizer } from "../tokenizer.ts";
import { EvalTaskError, type EvalOptions } from "./batch.ts";

type MaybePromise<T> = T | Promise<T>;

/** Token-level access to a model: the perplexity evaluation needs exact control of the windows. */
export interface TokenScorer {
  /** Most tokens one scored window may hold (an LM with context C scores windows of C + 1 tokens). */
  readonly windowLength: number;
  /** Prepended to each document when defined, so that its first real token is scored too. */
  readonly bos?: number;
  encode(text: string): number[];
  /** For each window w (1 < length ≤ windowLength): log p(w[t] | w[<t]) for t = 1..length−1. */
  tokenLogProbs(windows: readonly (readonly number[])[]): MaybePromise<readonly (readonly number[])[]>;
}

export interface Window {
  readonly start: number; // first token of the window (inclusive)
  readonly end: number; // one past its last token
  readonly scoreFrom: number; // targets t ∈ [scoreFrom, end) are scored, with context [start, t)
}

/** Windows over a sequence of n tokens; every position 1..n−1 is a target exactly once. */
export function stridedWindows(n: number, windowLength: number, stride: number): Window[] {
  if (!Number.isInteger(stride) || stride < 1 || stride >= windowLength)
    throw new EvalTaskError(
      "perplexity",
      `stride ${stride} must be an integer in 1..windowLength−1 (${windowLength - 1}): windows overlap by ≥ 1 token ` +
        "so that the first token of a window is a target of the window before",
    );
  const out: Window[] = [];
  let prevEnd = 0;
  for (let start = 0; start < n; start += stride) {
    const end = Math.min(start + windowLength, n);
    const scoreFrom = Math.max(prevEnd, start + 1);
    if (scoreFrom < end) out.push({ start, end, scoreFrom });
    prevEnd = end;
    if (end === n) break;
  }
  return out;
}

export interface PerplexityOptions extends EvalOptions {
  /** Default floor(windowLength / 2). */
  readonly stride?: number;
}

export interface PerplexityResult {
  readonly perplexity: number;
  /** Mean NLL per scored token (nats). */
  readonly nll: number;
  readonly tokens: number;
  readonly documents: number;
  /** UTF-8 bytes of the documents, and Σ NLL / (ln 2 · bytes): comparable across tokenizers. */
  readonly bytes: number;
  readonly bitsPerByte: number;
}

export async function evaluatePerplexity(
  scorer: TokenScorer,
  documents: readonly string[],
  opts: PerplexityOptions = {},
): Promise<PerplexityResult> {
  const ctx = scorer.windowLength;
  const stride = opts.stride ?? Math.max(1, Math.floor(ctx / 2));
  const jobs: { ids: readonly number[]; w: Window }[] = [];
  for (const doc of documents) {
    const enc = scorer.encode(doc);
    const ids = scorer.bos === undefined ? enc : [scorer.bos, ...enc];
    for (const w of stridedWindows(ids.length, ctx, stride)) jobs.push({ ids, w });
  }
  if (jobs.length === 0)
    throw new EvalTaskError("perplexity", `the ${documents.length} documents contain no token to score`);
  const bs = opts.batchSize ?? 16;
  let nll = 0;
  let tokens = 0;
  for (let i = 0; i < jobs.length; i += bs) {
    const chunk = jobs.slice(i, i + bs);
    const lps = await scorer.tokenLogProbs(chunk.map(({ ids, w }) => ids.slice(w.start, w.end)));
    chunk.forEach(({ w }, k) => {
      // lps[k][t − start − 1] = log p(ids[t] | ids[start..t))
      for (let t = w.scoreFrom; t < w.end; t++) nll -= lps[k][t - w.start - 1];
      tokens += w.end - w.scoreFrom;
    });
    opts.onProgress?.({ task: "perplexity", done: Math.min(i + bs, jobs.length), total: jobs.length });
  }
  const utf8 = new TextEncoder();
  const bytes = documents.reduce((n, d) => n + utf8.encode(d).length, 0);
  return { perplexity: perplexityFromNll(nll, tokens), nll: nll / tokens, tokens, documents: documents.length, bytes, bitsPerByte: nll / (Math.LN2 * bytes) };
}

/**
 * A TokenScorer over a plain LM + tokenizer: window w is scored as continuation w[1..] of context
 * [w[0]], i.e. C inputs predict C targets, so windows hold up to contextLength + 1 tokens; BOS first.
 */
export function lmTokenScorer(p: LMParams, c: LMConfig, tok: TextTokenizer, opts: { batchSize?: number } = {}): TokenScorer {
  return {
    windowLength: c.contextLength + 1,
    bos: tok.bos,
    encode: (text) => tok.encode(text),
    tokenLogProbs: (ws) =>
      scoreContinuations(p, c, ws.map((w) => ({ context: [w[0]], continuation: w.slice(1) })), opts).map((r) => r.tokenLogprobs),
  };
}
