// Byte-level BPE (Sennrich et al. 2016; byte-level as in GPT-2, Radford et al. 2019). Ids 0..255
// are the bytes, 256..256+M-1 the merges in the order learned, then the special tokens BOS, EOS, PAD.
// Text is split into pre-tokens by GPT-2's pattern (words with their leading space, numbers,
// punctuation runs, whitespace) and merges never cross a pre-token boundary. Training is
// deterministic: the most frequent pair wins, ties go to the smallest (left id, right id).
// Special tokens are only ever added through the API, never parsed out of text.
// (No npm library qualified: the maintained trainers — HF `tokenizers` — are native bindings.)
import { TokenizerError } from "./errors.ts";

const PATTERN = /'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
export const SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>"] as const;
const FORMAT = "acft-byte-bpe";
const VERSION = 1;

export interface TokenizerJSON { format: string; version: number; merges: [number, number][]; specials: readonly string[] }

const utf8 = new TextEncoder();
const pairKey = (a: number, b: number): number => a * 65536 + b; // ids < 65536

/** Split text into pre-tokens (GPT-2 pattern). */
export const preTokenize = (text: string): string[] => text.match(PATTERN) ?? [];

/** What acft's training, scoring and sampling code needs of a tokenizer. */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
  decode(ids: readonly number[], opts?: { keepSpecials?: boolean }): string;
  /** The JSON files that save it, by file name (`tokenizer.json`, and what else its format needs). */
  files(): Record<string, unknown>;
}

/** File name of a saved tokenizer, for acft's own format and Hugging Face's alike. */
export const TOKENIZER_FILE = "tokenizer.json";

export class Tokenizer implements TextTokenizer {
  readonly merges: readonly [number, number][];
  private readonly rank = new Map<number, number>(); // pairKey -> merge index
  private readonly bytes: Uint8Array[]; // token id -> its bytes
  private readonly cache = new Map<string, number[]>();

  constructor(merges: [number, number][]) {
    this.merges = merges;
    this.bytes = Array.from({ length: 256 }, (_, i) => Uint8Array.of(i));
    merges.forEach(([a, b], i) => {
      const id = 256 + i;
      if (!(a < id && b < id && a >= 0 && b >= 0)) throw new TokenizerError({ message: `merge ${i} [${a}, ${b}] refers to an id not defined before it` });
      this.rank.set(pairKey(a, b), i);
      const bytes = new Uint8Array(this.bytes[a].length + this.bytes[b].length);
      bytes.set(this.bytes[a]);
      bytes.set(this.bytes[b], this.bytes[a].length);
      this.bytes.push(bytes);
    });
  }

  get bos(): number { return 256 + this.merges.length; }
  get eos(): number { return this.bos + 1; }
  get pad(): number { return this.bos + 2; }
  get vocabSize(): number { return this.bos + SPECIALS.length; }

  /** Token ids of `text`; optionally framed by BOS / EOS. */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = opts.bos ? [this.bos] : [];
    for (const word of preTokenize(text)) {
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.encodeWord(Array.from(utf8.encode(word)));
        if (this.cache.size < 100_000) this.cache.set(word, ids);
      }
      out.push(...ids);
    }
    if (opts.eos) out.push(this.eos);
    return out;
  }

  /** Apply merges to one pre-token: repeatedly merge the adjacent pair of lowest rank. */
  private encodeWord(sym: number[]): number[] {
    for (;;) {
      let best = -1;
      for (let i = 0; i + 1 < sym.length; i++) {
        const r = this.rank.get(pairKey(sym[i], sym[i + 1]));
        if (r !== undefined && (best < 0 || r < best)) best = r;
      }
      if (best < 0) return sym;
      const [a, b] = this.merges[best];
      const next: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) { next.push(256 + best); i++; }
        else next.push(sym[i]);
      }
      sym = next;
    }
  }

  /** Text of token ids. Special tokens are dropped unless `keepSpecials`; invalid UTF-8 becomes U+FFFD. */
  decode(ids: readonly number[], opts: { keepSpecials?: boolean } = {}): string {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (const id of ids) {
      if (id >= this.bos && id < this.vocabSize) {
        if (opts.keepSpecials) { const s = utf8.encode(SPECIALS[id - this.bos]); parts.push(s); n += s.length; }
        continue;
      }
      const b = this.bytes[id];
      if (!b) throw new TokenizerError({ message: `token id ${id} is outside the vocabulary (size ${this.vocabSize})` });
      parts.push(b);
      n += b.length;
    }
    const all = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    return new TextDecoder("utf-8").decode(all);
  }

  files(): Record<string, unknown> {
    return { [TOKENIZER_FILE]: this.toJSON() };
  }

  toJSON(): TokenizerJSON {
    return { format: FORMAT, version: VERSION, merges: this.merges.map(([a, b]) => [a, b]), specials: SPECIALS };
  }

  static fromJSON(json: unknown): Tokenizer {
    const j = json as Partial<TokenizerJSON> | null;
    if (!j || typeof j !== "object" || j.format !== FORMAT)
      throw new TokenizerError({ message: `not an acft tokenizer (expected format "${FORMAT}", got ${JSON.stringify(j?.format)}); retrain it with trainTokenizer()` });
    if (j.version !== VERSION)
      throw new TokenizerError({ message: `tokenizer format version ${j.version} is not supported (this build reads version ${VERSION}); retrain it` });
    if (!Array.isArray(j.merges) || !j.merges.every((m) => Array.isArray(m) && m.length === 2 && m.every(Number.isInteger)))
      throw new TokenizerError({ message: "tokenizer JSON: `merges` must be an array of [int, int] pairs" });
    if (JSON.stringify(j.specials) !== JSON.stringify(SPECIALS))
      throw new TokenizerError({ message: `tokenizer JSON: special tokens ${JSON.stringify(j.specials)} differ from ${JSON.stringify(SPECIALS)}` });
    return new Tokenizer(j.merges as [number, number][]);
  }
}

export interface TrainTokenizerOptions {
  /** Total vocabulary incl. 256 bytes and 3 special tokens (>= 259, < 65536). */
  vocabSize: number;
  /** Stop early when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  onProgress?: (merges: number, total: number) => void;
}

/**
 * Learn merges from a corpus. Pair counts are kept incrementally: after each merge only the
 * distinct words containing the merged pair are recounted. Stops early (smaller vocab) when no
 * pair reaches minFrequency.
 */
export const trainTokenizer = (corpus: Iterable<string>, o: TrainTokenizerOptions): Tokenizer => {
  if (!(Number.isInteger(o.vocabSize) && o.vocabSize >= 256 + SPECIALS.length && o.vocabSize < 65536))
    throw new TokenizerError({ message: `vocabSize must be an integer in [${256 + SPECIALS.length}, 65535], got ${o.vocabSize}` });
  const freq = new Map<string, number>();
  for (const text of corpus) for (const w of preTokenize(text)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const words = [...freq.keys()].map((w) => Array.from(utf8.encode(w)));
  const counts = [...freq.values()];
  const pairs = new Map<number, number>(); // pairKey -> weighted count
  const where = new Map<number, Set<number>>(); // pairKey -> word indices containing it
  const account = (wi: number, sign: 1 | -1) => {
    const w = words[wi];
    for (let i = 0; i + 1 < w.length; i++) {
      const k = pairKey(w[i], w[i + 1]);
      const n = (pairs.get(k) ?? 0) + sign * counts[wi];
      if (n === 0) pairs.delete(k);
      else pairs.set(k, n);
      if (sign > 0) { let s = where.get(k); if (!s) where.set(k, (s = new Set())); s.add(wi); }
    }
  };
  words.forEach((_, wi) => account(wi, 1));
  const total = o.vocabSize - 256 - SPECIALS.length;
  const merges: [number, number][] = [];
  while (merges.length < total) {
    let best = -1;
    let bestCount = 0;
    for (const [k, n] of pairs) if (n > bestCount || (n === bestCount && n > 0 && k < best)) { best = k; bestCount = n; }
    if (best < 0 || bestCount < (o.minFrequency ?? 2)) break;
    const a = Math.floor(best / 65536);
    const b = best % 65536;
    const id = 256 + merges.length;
    merges.push([a, b]);
    for (const wi of where.get(best) ?? []) {
      account(wi, -1);
      const w = words[wi];
      const next: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) { next.push(id); i++; }
        else next.push(w[i]);
      }
      words[wi] = next;
      account(wi, 1);
    }
    pairs.delete(best);
    where.delete(best);
    if (merges.length % 64 === 0) o.onProgress?.(merges.length, total);
  }
  o.onProgress?.(merges.length, total);
  return new Tokenizer(merges);
};
