// Mixing the toxic-domain and general corpora for fine-tuning (paper §3: D = toxic ∪ general, and
// the adaptive regulariser uses only D_reg = the toxic part, selected by each example's domain tag).
import { InvalidDataOption } from "./errors.ts";
import { Rng } from "./synthetic/rng.ts";

export type Domain = "toxic" | "general";

export interface MixedExample {
  readonly text: string;
  readonly domain: Domain;
}

export interface MixOptions {
  /** Share of the mix's TOKENS drawn from the toxic corpus, in [0, 1]. Default 0.5 (equal by tokens). */
  readonly toxicShare?: number;
  /** Token count of a text (the caller's tokenizer; data/ does not depend on ml/). */
  readonly countTokens: (text: string) => number;
  /** Seed of the two draws and the final interleaving. */
  readonly seed: number | string;
  /** Cap on the total tokens of the mix. Default: as large as the scarcer side allows. */
  readonly maxTokens?: number;
}

export interface Mix {
  readonly examples: readonly MixedExample[];
  /** tokens taken per domain */
  readonly tokens: { readonly toxic: number; readonly general: number };
  /** examples available but not used, per domain */
  readonly unused: { readonly toxic: number; readonly general: number };
}

interface Counted { readonly text: string; readonly n: number }

/** Take examples in the given order until `target` tokens are reached (the last may overshoot by < 1 example). */
const takeTokens = (xs: readonly Counted[], target: number): { taken: Counted[]; tokens: number } => {
  const taken: Counted[] = [];
  let tokens = 0;
  for (const x of xs) {
    if (tokens >= target) break;
    taken.push(x);
    tokens += x.n;
  }
  return { taken, tokens };
};

/**
 * Draw a mix with `toxicShare` of its tokens from `toxic` and the rest from `general`.
 * Budget B = min(T_toxic / s, T_general / (1 − s), maxTokens) so that neither side runs out;
 * each side is shuffled (seeded), taken up to its share of B, and the union is shuffled again.
 * Deterministic given (inputs, options). Empty texts are ignored.
 */
export const mixCorpora = (toxic: readonly string[], general: readonly string[], opts: MixOptions): Mix => {
  const s = opts.toxicShare ?? 0.5;
  if (!(s >= 0 && s <= 1)) throw new InvalidDataOption({ option: "mix.toxicShare", value: s, expected: "a number in [0, 1]" });
  if (opts.maxTokens !== undefined && !(opts.maxTokens > 0)) throw new InvalidDataOption({ option: "mix.maxTokens", value: opts.maxTokens, expected: "a positive number of tokens" });
  const rng = new Rng(`acft-mix/${opts.seed}`);
  const count = (xs: readonly string[]): Counted[] => xs.filter((t) => t.length > 0).map((text) => ({ text, n: opts.countTokens(text) }));
  const t = rng.fork("toxic").shuffle(count(toxic));
  const g = rng.fork("general").shuffle(count(general));
  const total = (xs: Counted[]) => xs.reduce((a, x) => a + x.n, 0);
  const [tt, tg] = [total(t), total(g)];
  if (s > 0 && tt === 0) throw new InvalidDataOption({ option: "mix.toxic", value: toxic.length, expected: `a non-empty toxic corpus for toxicShare ${s}` });
  if (s < 1 && tg === 0) throw new InvalidDataOption({ option: "mix.general", value: general.length, expected: `a non-empty general corpus for toxicShare ${s}` });
  const budget = Math.min(s > 0 ? tt / s : Infinity, s < 1 ? tg / (1 - s) : Infinity, opts.maxTokens ?? Infinity);
  const a = takeTokens(t, s * budget);
  const b = takeTokens(g, (1 - s) * budget);
  const examples = rng.fork("interleave").shuffle([
    ...a.taken.map((x): MixedExample => ({ text: x.text, domain: "toxic" })),
    ...b.taken.map((x): MixedExample => ({ text: x.text, domain: "general" })),
  ]);
  return { examples, tokens: { toxic: a.tokens, general: b.tokens }, unused: { toxic: t.length - a.taken.length, general: g.length - b.taken.length } };
};

/** The regularised subset D_reg: the toxic part (adaptive) or everything (non-adaptive). */
export const regularisedExamples = (mix: Mix, adaptive: boolean): readonly MixedExample[] =>
  adaptive ? mix.examples.filter((e) => e.domain === "toxic") : mix.examples;
