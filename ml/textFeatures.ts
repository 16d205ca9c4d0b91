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
  return fnvString(FNV_OFFSET, s) >>> 0;
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

const FNV_OFFSET = 0x811c9dc5;
const fnvStep = (h: number, code: number): number => Math.imul(h ^ code, 0x01000193);
const fnvString = (h: number, s: string): number => {
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return h;
};

/**
 * Calls `emit(hash)` once for every feature of `featureStrings(text, cfg)` with its FNV-1a value
 * (char n-grams in another order), without building the strings (FNV-1a is a left fold, so a prefix's state
 * extends to every longer n-gram starting at the same place).
 */
export function forEachFeatureHash(text: string, cfg: FeatureConfig, emit: (h: number) => void): void {
  const ws = words(text);
  const [wLo, wHi] = cfg.wordNgrams;
  for (let n = wLo; n <= wHi; n++) {
    const head = fnvString(FNV_OFFSET, `w${n}:`);
    for (let i = 0; i + n <= ws.length; i++) {
      let h = fnvString(head, ws[i]);
      for (let j = 1; j < n; j++) h = fnvString(fnvStep(h, 32), ws[i + j]); // " " joins the words
      emit(h >>> 0);
    }
  }
  const [cLo, cHi] = cfg.charNgrams;
  if (cLo <= 0) return;
  const head = fnvString(FNV_OFFSET, "c:");
  for (const w of ws) {
    const p = ` ${w} `;
    for (let i = 0; i + cLo <= p.length; i++) {
      let h = head;
      for (let n = 1; n <= cHi && i + n <= p.length; n++) {
        h = fnvStep(h, p.charCodeAt(i + n - 1));
        if (n >= cLo) emit(h >>> 0);
      }
    }
  }
}

// Scratch accumulator per dimension: dense sums, a touched mark and the touched list (reset after use).
const scratch = new Map<number, { sum: Float64Array; seen: Uint8Array; touched: Int32Array }>();

/** Hashed, signed, L2-normalised feature vector of one text (empty text → empty vector). */
export function featurize(text: string, cfg: FeatureConfig = DEFAULT_FEATURES): SparseVec {
  const D = 1 << cfg.log2Dims;
  let sc = scratch.get(D);
  if (!sc) scratch.set(D, (sc = { sum: new Float64Array(D), seen: new Uint8Array(D), touched: new Int32Array(1024) }));
  const { sum, seen } = sc;
  let nTouched = 0;
  forEachFeatureHash(text, cfg, (h) => {
    const b = h & (D - 1);
    if (!seen[b]) {
      seen[b] = 1;
      if (nTouched === sc.touched.length) {
        const grown = new Int32Array(2 * nTouched);
        grown.set(sc.touched);
        sc.touched = grown;
      }
      sc.touched[nTouched++] = b;
    }
    sum[b] += h >>> 31 ? -1 : 1;
  });
  const idx = sc.touched.slice(0, nTouched).sort();
  const val = new Float32Array(nTouched);
  let norm = 0;
  for (let i = 0; i < nTouched; i++) {
    const v = sum[idx[i]]; // may be 0 when colliding features cancel
    sum[idx[i]] = 0;
    seen[idx[i]] = 0;
    val[i] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < nTouched; i++) val[i] /= norm;
  return { idx, val };
}
