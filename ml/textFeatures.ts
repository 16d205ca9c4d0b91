// Hashed bag-of-n-grams features for the toxicity oracle (the "hashing trick", Weinberger et al. 2009):
// word unigrams + bigrams and character n-grams of each word padded with spaces (sklearn's
// "char_wb"; fastText's subwords), so that short continuations, inflections ("idiots", "idiotic")
// and glued or misspelt insults still hit informative features.
//
//   feature string f  →  h = FNV-1a-32(f);  bucket = h mod D (D a power of two);  sign = ±1 from bit 31
//   x[bucket] += sign · 1   then   x ← x / ‖x‖₂           (signed hashing keeps collisions unbiased)
//
// Deterministic and platform-independent (pure integer arithmetic on UTF-16 code units).

export interface FeatureConfig {
  /** log2 of the number of hash buckets D (default 18: 262,144). */
  readonly log2Dims: number;
  /** Word n-gram orders, inclusive range (default [1, 2]). */
  readonly wordNgrams: readonly [number, number];
  /** Character n-gram orders inside " word " (default [2, 5]); [0, 0] disables them. */
  readonly charNgrams: readonly [number, number];
}

export const DEFAULT_FEATURES: FeatureConfig = { log2Dims: 18, wordNgrams: [1, 2], charNgrams: [2, 5] };

/** A sparse vector: strictly increasing indices, matching values. */
export interface SparseVec {
  readonly idx: Int32Array;
  readonly val: Float32Array;
}

/** FNV-1a, 32-bit, over UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Lower-cased NFKC words (letters, digits, apostrophes). */
export function words(text: string): string[] {
  return text.normalize("NFKC").toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

/** The feature strings of a text, prefixed by kind so words and char n-grams never collide by name. */
export function featureStrings(text: string, cfg: FeatureConfig = DEFAULT_FEATURES): string[] {
  const ws = words(text);
  const out: string[] = [];
  const [wLo, wHi] = cfg.wordNgrams;
  for (let n = wLo; n <= wHi; n++) for (let i = 0; i + n <= ws.length; i++) out.push(`w${n}:${ws.slice(i, i + n).join(" ")}`);
  const [cLo, cHi] = cfg.charNgrams;
  if (cLo > 0)
    for (const w of ws) {
      const p = ` ${w} `;
      for (let n = cLo; n <= cHi; n++) for (let i = 0; i + n <= p.length; i++) out.push(`c:${p.slice(i, i + n)}`);
    }
  return out;
}

/** Hashed, signed, L2-normalised feature vector of one text (empty text → empty vector). */
export function featurize(text: string, cfg: FeatureConfig = DEFAULT_FEATURES): SparseVec {
  const mask = (1 << cfg.log2Dims) - 1;
  const acc = new Map<number, number>();
  for (const f of featureStrings(text, cfg)) {
    const h = fnv1a(f);
    const b = h & mask;
    acc.set(b, (acc.get(b) ?? 0) + (h >>> 31 ? -1 : 1));
  }
  const idx = Int32Array.from([...acc.keys()].sort((a, b) => a - b));
  const val = new Float32Array(idx.length);
  let norm = 0;
  idx.forEach((b, i) => {
    val[i] = acc.get(b)!;
    norm += val[i] * val[i];
  });
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < val.length; i++) val[i] /= norm;
  return { idx, val };
}
