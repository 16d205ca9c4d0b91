// Calling a model in batches with progress, and the evaluations' typed error. Shared by every eval.

import type {
  EvalLanguageModel,
  GenerateOptions,
  LoglikelihoodRequest,
  LoglikelihoodResult,
  OnProgress,
} from "./types.ts";

/** A task that cannot be evaluated as given (bad gold index, mismatched lengths…): names task and item. */
export class EvalTaskError extends Error {
  readonly _tag = "EvalTaskError";
  constructor(
    readonly task: string,
    readonly detail: string,
  ) {
    super(`evaluation task ${task}: ${detail}`);
  }
}

export interface EvalOptions {
  /** Requests (or prompts) per model call (default 64 for scoring, 32 for generation). */
  readonly batchSize?: number;
  readonly onProgress?: OnProgress;
}

/** Scores requests in batches; results in request order. */
export async function scoreRequests(
  lm: EvalLanguageModel,
  reqs: readonly LoglikelihoodRequest[],
  task: string,
  opts: EvalOptions = {},
): Promise<LoglikelihoodResult[]> {
  const bs = opts.batchSize ?? 64;
  const out: LoglikelihoodResult[] = [];
  for (let i = 0; i < reqs.length; i += bs) {
    const chunk = reqs.slice(i, i + bs);
    const res = await lm.logLikelihood(chunk);
    if (res.length !== chunk.length)
      throw new EvalTaskError(task, `model returned ${res.length} results for ${chunk.length} requests`);
    out.push(...res);
    opts.onProgress?.({ task, done: Math.min(i + bs, reqs.length), total: reqs.length });
  }
  return out;
}

/** Generates continuations (prompt excluded) in batches, with progress. */
export async function generateAll(
  lm: EvalLanguageModel,
  prompts: readonly string[],
  gen: GenerateOptions,
  task: string,
  opts: EvalOptions = {},
): Promise<string[]> {
  const bs = opts.batchSize ?? 32;
  const out: string[] = [];
  for (let i = 0; i < prompts.length; i += bs) {
    const chunk = prompts.slice(i, i + bs);
    // A per-batch seed makes each batch's samples independent of the batches before it.
    const seed = gen.seed === undefined ? {} : { seed: gen.seed + i };
    const conts = await lm.generate(chunk, { ...gen, ...seed });
    if (conts.length !== chunk.length)
      throw new EvalTaskError(task, `model returned ${conts.length} continuations for ${chunk.length} prompts`);
    out.push(...conts);
    opts.onProgress?.({ task, done: Math.min(i + bs, prompts.length), total: prompts.length });
  }
  return out;
}
