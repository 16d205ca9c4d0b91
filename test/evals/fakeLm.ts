// A language model whose log-probabilities and generations the test controls exactly, recording
// every call so prompt formats can be checked string for string.
import type { EvalLanguageModel, GenerateOptions, LoglikelihoodRequest, LoglikelihoodResult } from "../../ml/eval/types.ts";

export class FakeLM implements EvalLanguageModel {
  readonly scored: LoglikelihoodRequest[] = [];
  readonly generated: { prompts: string[]; opts: GenerateOptions }[] = [];
  constructor(
    private readonly score: (r: LoglikelihoodRequest) => number | { logprob: number; tokens: number },
    private readonly gen: (prompt: string, opts: GenerateOptions) => string = () => "",
  ) {}
  async logLikelihood(reqs: readonly LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
    this.scored.push(...reqs);
    return reqs.map((r) => {
      const s = this.score(r);
      // Default token count: whitespace-separated words of the continuation.
      const r2 = typeof s === "number" ? { logprob: s, tokens: r.continuation.split(/\s+/).filter(Boolean).length } : s;
      return { ...r2, greedyMatch: false };
    });
  }
  async generate(prompts: readonly string[], opts: GenerateOptions): Promise<string[]> {
    this.generated.push({ prompts: [...prompts], opts });
    return prompts.map((p) => this.gen(p, opts));
  }
}
