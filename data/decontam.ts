// Evaluation-set decontamination by long n-gram overlap (the GPT-3 paper's procedure, n = 13 words).
// Text is normalised to lowercase word tokens (NFKC, lowercased, maximal runs of letters, marks and
// digits; everything else — punctuation, whitespace, symbols — only separates words). Every n-gram of
// every evaluation item is hashed to 64 bits (two independent 32-bit lanes) into an open-addressing
// table; a training text is contaminated when any of its n-grams is in the table. An item shorter
// than n words contributes its whole word sequence as its one n-gram (matched as a contiguous run of
// the same words inside a training text); an item shorter than `minWords` is counted as short and
// matched only by a training text that is exactly that item (the same word sequence, nothing more).
// Pure and synchronous: no I/O, no dependence on the tokenizer or the ML code.
import { InvalidDataOption } from "./errors.ts";

/** n-gram length in words (GPT-3's choice). */
export const NGRAM_WORDS = 13;
/**
 * Items with fewer words than this are short (and counted): a run of 7 or fewer common words ("which
 * of the following is true") occurs in unrelated text by chance, so a short item is matched only by a
 * training text that is exactly it; 8 to 12 words are matched as a run inside any training text.
 */
export const MIN_ITEM_WORDS = 8;

export interface DecontamOptions {
  /** n-gram length in words (default 13). */
  readonly n?: number;
  /** Items with fewer words are matched only as a whole training text (default 8; at most n). */
  readonly minWords?: number;
}

const WORD = /[\p{L}\p{M}\p{N}]+/gu;

/** The normalised word tokens of a text: NFKC, lowercase, runs of letters/marks/digits. */
export const normalizeWords = (text: string): string[] => text.normalize("NFKC").toLowerCase().match(WORD) ?? [];

// ---- hashing -------------------------------------------------------------------------------------
// Each word gets two independent 32-bit hashes (lane A: FNV-1a over its UTF-16 code units; lane B: a
// murmur-style multiply-xorshift with another seed, finalised with the word length); a run of L words
// gets the rolling polynomial hash of its word hashes mod 2^32 in each lane (odd bases), so every
// window of every length costs O(1) from the prefix sums; lane B also mixes in L. 64 bits per n-gram:
// over 10^6 evaluation n-grams and 10^7 training windows, a false match has probability ~10^-6.

const FNV_OFFSET = 0x811c9dc5, FNV_PRIME = 0x01000193;
const MUR_SEED = 0x9747b28c, MUR_MUL = 0x5bd1e995;
const BASE_A = 0x01000193, BASE_B = 0x2545f491;
const GOLDEN = 0x9e3779b9;

/** murmur3's 32-bit finaliser (full avalanche). */
const fmix32 = (x: number): number => {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
};

/** Lane A of a string: FNV-1a over its UTF-16 code units. */
const fnv1a = (w: string): number => {
  let h = FNV_OFFSET;
  for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
};

/** Lane B of a string. */
const murmurish = (w: string): number => {
  let h = MUR_SEED;
  for (let i = 0; i < w.length; i++) {
    h = Math.imul(h ^ w.charCodeAt(i), MUR_MUL);
    h ^= h >>> 15;
  }
  return fmix32(h ^ w.length);
};

/** Scratch prefix buffers of the last text hashed, grown as needed (the module is synchronous). */
let PA = new Uint32Array(1024);
let PB = new Uint32Array(1024);

const grow = (m: number): void => {
  if (PA.length >= m + 1) return;
  const a = new Uint32Array(2 * (m + 1)), b = new Uint32Array(2 * (m + 1));
  a.set(PA);
  b.set(PB);
  PA = a;
  PB = b;
};

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Fill PA/PB with the prefix hashes of the normalised words of `text`; returns the word count. ASCII
 * text (almost all of it) is split and hashed in one pass over its code units, without building the
 * words; other text goes through `normalizeWords`. Both give the words `normalizeWords` gives.
 */
const prefixes = (text: string): number => {
  PA[0] = 0;
  PB[0] = 0;
  let pa = 0, pb = 0, m = 0;
  if (NON_ASCII.test(text)) {
    const words = normalizeWords(text);
    grow(words.length);
    for (const w of words) {
      pa = (Math.imul(pa, BASE_A) + fnv1a(w)) >>> 0;
      pb = (Math.imul(pb, BASE_B) + murmurish(w)) >>> 0;
      m++;
      PA[m] = pa;
      PB[m] = pb;
    }
    return m;
  }
  grow((text.length >> 1) + 1);
  let ha = FNV_OFFSET, hb = MUR_SEED, len = 0;
  for (let i = 0; i <= text.length; i++) {
    let c = i < text.length ? text.charCodeAt(i) : 0;
    if (c >= 65 && c <= 90) c += 32;
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      ha = Math.imul(ha ^ c, FNV_PRIME);
      hb = Math.imul(hb ^ c, MUR_MUL);
      hb ^= hb >>> 15;
      len++;
    } else if (len > 0) {
      pa = (Math.imul(pa, BASE_A) + (ha >>> 0)) >>> 0;
      pb = (Math.imul(pb, BASE_B) + fmix32(hb ^ len)) >>> 0;
      m++;
      PA[m] = pa;
      PB[m] = pb;
      ha = FNV_OFFSET;
      hb = MUR_SEED;
      len = 0;
    }
  }
  return m;
};

const pow = (base: number, e: number): number => {
  let r = 1;
  for (let i = 0; i < e; i++) r = Math.imul(r, base) >>> 0;
  return r;
};

/** Lane A of the window [i, i+L) of the last text hashed (powA = BASE_A^L). */
const windowA = (i: number, L: number, powA: number): number => (PA[i + L] - Math.imul(PA[i], powA)) >>> 0;
/** Lane B of the window, with L mixed in (powB = BASE_B^L). */
const windowB = (i: number, L: number, powB: number): number => ((PB[i + L] - Math.imul(PB[i], powB)) ^ Math.imul(L, GOLDEN)) >>> 0;

/** A 64-bit key's home in a power-of-two table. */
const home = (a: number, b: number): number => fmix32(a ^ Math.imul(b, 0x27d4eb2d));

// ---- the index -----------------------------------------------------------------------------------

/**
 * One evaluation item: its text, or several renderings of it (e.g. a question alone and with its
 * choices, or a fill-in sentence with each option filled in) whose n-grams are all indexed for it.
 */
export type EvalItem = string | readonly string[];

/** An evaluation set: a name and its items. */
export interface EvalSet {
  readonly name: string;
  readonly items: readonly EvalItem[];
}

export interface EvalSetStats {
  readonly name: string;
  /** items in the set */
  readonly items: number;
  /** items whose every rendering has fewer than `minWords` words: matched only by a training text that is exactly the item */
  readonly shortItems: number;
  /** distinct n-grams the set contributes */
  readonly ngrams: number;
}

/** What a training text shares with the evaluation items. */
export interface Overlap {
  /** global ids of the evaluation items (see `NgramIndex.setOf`), ascending, distinct */
  readonly items: readonly number[];
  /** distinct matched n-grams, as key numbers (stable within one index) */
  readonly ngrams: readonly number[];
}

/** An open-addressing hash set of 64-bit keys (two 32-bit lanes), linear probing, load ≤ 1/2. */
class KeyTable {
  readonly mask: number;
  readonly a: Uint32Array;
  readonly b: Uint32Array;
  /** slot → 1 + the payload index; 0 = empty */
  readonly used: Int32Array;
  size = 0;

  constructor(keys: number) {
    let cap = 16;
    while (cap < 2 * keys) cap *= 2;
    this.mask = cap - 1;
    this.a = new Uint32Array(cap);
    this.b = new Uint32Array(cap);
    this.used = new Int32Array(cap);
  }

  /** The slot of (a, b), or the empty slot where it would go. */
  slot(a: number, b: number): number {
    let s = home(a, b) & this.mask;
    while (this.used[s] !== 0 && (this.a[s] !== a || this.b[s] !== b)) s = (s + 1) & this.mask;
    return s;
  }

  /** The slot of (a, b), inserted with payload `size` if absent; `fresh` says whether it was. */
  insert(a: number, b: number): { slot: number; fresh: boolean } {
    const s = this.slot(a, b);
    if (this.used[s] !== 0) return { slot: s, fresh: false };
    this.a[s] = a;
    this.b[s] = b;
    this.used[s] = ++this.size;
    return { slot: s, fresh: true };
  }
}

/**
 * The hashed n-grams of a list of evaluation sets. `contaminates(text)` says whether a training text
 * shares any n-gram with any item; `overlap(text)` says which items and n-grams.
 *
 * A training text of m words costs one lookup per n-word window, in a bitset first (1 bit per key ×
 * 16, so 15 of 16 misses never touch the table). The whole sequences of short items (minWords ≤ L < n
 * words) are found through their first `minWords` words: one lookup per window in a small table of
 * those heads, and only on a hit a lookup of the L-word window.
 */
export class NgramIndex {
  readonly n: number;
  readonly minWords: number;
  readonly sets: readonly EvalSetStats[];
  /** distinct n-grams (and short-item sequences) in the table */
  readonly size: number;
  /** set index of each global item id */
  private readonly itemSet: Int32Array;
  private readonly keys: KeyTable;
  /** per key (payload index = used − 1): head of its chain of item ids in chainItem/chainNext */
  private readonly keyHead: Int32Array;
  private readonly chainItem: Int32Array;
  private readonly chainNext: Int32Array;
  /** bitset over `home` of the n-word keys */
  private readonly bloom: Uint32Array;
  private readonly bloomShift: number;
  /** heads (first minWords words) of the short items → the lengths L of the short items with that head */
  private readonly heads: KeyTable;
  private readonly headLengths: number[][];
  private readonly powA: Uint32Array;
  private readonly powB: Uint32Array;

  private constructor(n: number, minWords: number, sets: readonly EvalSet[]) {
    this.n = n;
    this.minWords = minWords;
    this.powA = Uint32Array.from({ length: n + 1 }, (_, L) => pow(BASE_A, L));
    this.powB = Uint32Array.from({ length: n + 1 }, (_, L) => pow(BASE_B, L));
    // Pass 1: the keys of every item's n-grams (or whole short sequence), and the short items' heads.
    const ka: number[] = [], kb: number[] = [], owner: number[] = [];
    const ha: number[] = [], hb: number[] = [], hl: number[] = [];
    const itemSet: number[] = [];
    const shortCounts: number[] = [];
    sets.forEach((set, s) => {
      let shortItems = 0;
      for (const item of set.items) {
        const id = itemSet.length;
        itemSet.push(s);
        let indexed = false;
        for (const text of typeof item === "string" ? [item] : item) {
          const m = prefixes(text);
          if (m === 0) continue;
          if (m < minWords) {
            ka.push(windowA(0, m, this.powA[m]));
            kb.push(windowB(0, m, this.powB[m]));
            owner.push(id);
            continue;
          }
          indexed = true;
          const L = Math.min(n, m);
          for (let i = 0; i + L <= m; i++) {
            ka.push(windowA(i, L, this.powA[L]));
            kb.push(windowB(i, L, this.powB[L]));
            owner.push(id);
          }
          if (L < n) {
            ha.push(windowA(0, minWords, this.powA[minWords]));
            hb.push(windowB(0, minWords, this.powB[minWords]));
            hl.push(L);
          }
        }
        if (!indexed) shortItems++;
      }
      shortCounts.push(shortItems);
    });
    this.itemSet = Int32Array.from(itemSet);
    // Pass 2: the key table, with one chain of distinct item ids per key.
    this.keys = new KeyTable(ka.length);
    this.keyHead = new Int32Array(ka.length).fill(-1);
    this.chainItem = new Int32Array(ka.length);
    this.chainNext = new Int32Array(ka.length);
    let chain = 0;
    const perSet = new Array<number>(sets.length).fill(0);
    for (let k = 0; k < ka.length; k++) {
      const { slot, fresh } = this.keys.insert(ka[k], kb[k]);
      const key = this.keys.used[slot] - 1, set = itemSet[owner[k]];
      const head = this.keyHead[key];
      // Items are added in id order, so a repeat within one item is at the chain's head.
      if (!fresh && this.chainItem[head] === owner[k]) continue;
      let seenInSet = false;
      for (let c = head; c !== -1 && !seenInSet; c = this.chainNext[c]) seenInSet = itemSet[this.chainItem[c]] === set;
      if (!seenInSet) perSet[set]++;
      this.chainItem[chain] = owner[k];
      this.chainNext[chain] = head;
      this.keyHead[key] = chain++;
    }
    this.size = this.keys.size;
    this.sets = sets.map((set, i) => ({ name: set.name, items: set.items.length, shortItems: shortCounts[i], ngrams: perSet[i] }));
    // The bitset: ≥ 16 bits per n-word key, at least 2^10 bits.
    let bits = 10;
    while (bits < 31 && 2 ** bits < 16 * this.size) bits++;
    this.bloomShift = 32 - bits;
    this.bloom = new Uint32Array(2 ** (bits - 5));
    for (let k = 0; k < ka.length; k++) {
      const h = home(ka[k], kb[k]) >>> this.bloomShift;
      this.bloom[h >>> 5] |= 1 << (h & 31);
    }
    // The short items' heads.
    this.heads = new KeyTable(ha.length);
    this.headLengths = [];
    for (let k = 0; k < ha.length; k++) {
      const { slot, fresh } = this.heads.insert(ha[k], hb[k]);
      if (fresh) this.headLengths.push([]);
      const ls = this.headLengths[this.heads.used[slot] - 1];
      if (!ls.includes(hl[k])) ls.push(hl[k]);
    }
  }

  /** Index the items of `sets` (n-gram length `n`, default 13; items under `minWords` words, default 8, matched only whole). */
  static build(sets: readonly EvalSet[], opts: DecontamOptions = {}): NgramIndex {
    const n = opts.n ?? NGRAM_WORDS;
    const minWords = opts.minWords ?? Math.min(MIN_ITEM_WORDS, n);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidDataOption({ option: "decontam.n", value: n, expected: "an integer n-gram length in [1, 1000] (words)" });
    if (!Number.isInteger(minWords) || minWords < 1 || minWords > n)
      throw new InvalidDataOption({ option: "decontam.minWords", value: minWords, expected: `an integer in [1, n = ${n}] (items with fewer words are matched only as a whole training text)` });
    const names = new Set<string>();
    for (const s of sets) {
      if (names.has(s.name)) throw new InvalidDataOption({ option: "decontam.sets", value: s.name, expected: "distinct evaluation-set names" });
      names.add(s.name);
    }
    return new NgramIndex(n, minWords, sets);
  }

  /** The key (payload index) of window [i, i+L) of the last text hashed, or −1. */
  private lookup(i: number, L: number): number {
    const a = windowA(i, L, this.powA[L]), b = windowB(i, L, this.powB[L]);
    if (L === this.n) {
      const h = home(a, b) >>> this.bloomShift;
      if ((this.bloom[h >>> 5] & (1 << (h & 31))) === 0) return -1;
    }
    return this.keys.used[this.keys.slot(a, b)] - 1;
  }

  /** Call `hit(key)` for every window of `text` that is a key; stop when it returns true. */
  private scan(text: string, hit: (key: number) => boolean): void {
    if (this.size === 0) return;
    const m = prefixes(text);
    const n = this.n, h = this.minWords, shortItems = this.heads.size > 0;
    if (m > 0 && m < h) {
      // A text shorter than minWords can only be a short item, whole.
      const key = this.lookup(0, m);
      if (key >= 0) hit(key);
      return;
    }
    for (let i = 0; i + h <= m; i++) {
      if (i + n <= m) {
        const key = this.lookup(i, n);
        if (key >= 0 && hit(key)) return;
      }
      if (!shortItems) continue;
      const head = this.heads.used[this.heads.slot(windowA(i, h, this.powA[h]), windowB(i, h, this.powB[h]))] - 1;
      if (head < 0) continue;
      for (const L of this.headLengths[head]) {
        if (i + L > m) continue;
        const key = this.lookup(i, L);
        if (key >= 0 && hit(key)) return;
      }
    }
  }

  /** Whether `text` shares an n-gram with any evaluation item. */
  contaminates(text: string): boolean {
    let found = false;
    this.scan(text, () => (found = true));
    return found;
  }

  /** The evaluation items and the distinct n-grams (keys) `text` shares with them. */
  overlap(text: string): Overlap {
    const keys = new Set<number>();
    this.scan(text, (key) => {
      keys.add(key);
      return false;
    });
    const items = new Set<number>();
    for (const key of keys) for (let c = this.keyHead[key]; c !== -1; c = this.chainNext[c]) items.add(this.chainItem[c]);
    return { items: [...items].sort((x, y) => x - y), ngrams: [...keys].sort((x, y) => x - y) };
  }

  /** Evaluation-set index (into `sets`) of a global item id. */
  setOf(item: number): number {
    return this.itemSet[item];
  }

  /** Per set: the items and distinct n-grams `text` shares with that set (sets without overlap absent). */
  overlapBySet(text: string): Map<number, { items: number[]; ngrams: number[] }> {
    const out = new Map<number, { items: number[]; ngrams: number[] }>();
    for (const key of this.overlap(text).ngrams) {
      const sets = new Set<number>();
      for (let c = this.keyHead[key]; c !== -1; c = this.chainNext[c]) {
        const item = this.chainItem[c], s = this.itemSet[item];
        const e = out.get(s) ?? { items: [], ngrams: [] };
        e.items.push(item);
        if (!sets.has(s)) e.ngrams.push(key);
        sets.add(s);
        out.set(s, e);
      }
    }
    return out;
  }
}

/** Split `xs` into the elements whose text shares no n-gram with the index (kept) and the rest (removed). */
export const decontaminate = <A>(index: NgramIndex, xs: readonly A[], text: (a: A) => string): { kept: A[]; removed: A[] } => {
  const kept: A[] = [], removed: A[] = [];
  for (const x of xs) (index.contaminates(text(x)) ? removed : kept).push(x);
  return { kept, removed };
};

/** A training source as the contamination report sees it: its texts before and after the filter. */
export interface TrainSource {
  readonly name: string;
  /** the source's texts as read, before decontamination */
  readonly before: readonly string[];
  /** the source's texts after decontamination */
  readonly after: readonly string[];
}

/** One row per (evaluation set, training source): what the filter removed and what overlap remains. */
export type ContaminationRow = {
  readonly eval_set: string;
  readonly train_source: string;
  /** items in the evaluation set */
  readonly eval_items: number;
  /** evaluation items under minWords words, matched only by a training text that is exactly the item */
  readonly eval_short_items: number;
  /** training texts of the source before decontamination */
  readonly train_items: number;
  /** training texts the filter removed because they share an n-gram with this set */
  readonly removed_items: number;
  /** evaluation items of this set that shared an n-gram with a training text before the filter */
  readonly matched_eval_items: number;
  /** training texts after the filter */
  readonly kept_items: number;
  /** texts after the filter that still share an n-gram with this set (must be 0) */
  readonly contaminated_train_texts: number;
  /** evaluation items of this set still sharing an n-gram with a text after the filter (must be 0) */
  readonly contaminated_eval_texts: number;
  /** distinct n-grams of this set still in some document after the filter (must be 0) */
  readonly overlapping_ngrams: number;
};

/** Name of the rows that count a training text once whatever set it overlaps. */
export const ANY_EVAL_SET = "any";

/**
 * The contamination table: for each source and each evaluation set (plus one `any` row per source),
 * the overlap before the filter (`removed_items`, `matched_eval_items`) and what remains after it.
 */
export const contaminationRows = (index: NgramIndex, sources: readonly TrainSource[]): ContaminationRow[] => {
  const rows: ContaminationRow[] = [];
  const S = index.sets.length;
  for (const src of sources) {
    const tally = () => ({ texts: 0, items: new Set<number>(), ngrams: new Set<number>() });
    const before = Array.from({ length: S + 1 }, tally), after = Array.from({ length: S + 1 }, tally);
    const count = (texts: readonly string[], acc: ReturnType<typeof tally>[]) => {
      for (const t of texts) {
        const by = index.overlapBySet(t);
        if (by.size === 0) continue;
        acc[S].texts++;
        for (const [s, o] of by) {
          acc[s].texts++;
          for (const i of o.items) acc[s].items.add(i), acc[S].items.add(i);
          for (const g of o.ngrams) acc[s].ngrams.add(g), acc[S].ngrams.add(g);
        }
      }
    };
    count(src.before, before);
    count(src.after, after);
    const stat = (s: number) =>
      s < S ? index.sets[s] : { name: ANY_EVAL_SET, items: index.sets.reduce((a, x) => a + x.items, 0), shortItems: index.sets.reduce((a, x) => a + x.shortItems, 0) };
    for (let s = 0; s <= S; s++)
      rows.push({
        eval_set: stat(s).name,
        train_source: src.name,
        eval_items: stat(s).items,
        eval_short_items: stat(s).shortItems,
        train_items: src.before.length,
        removed_items: before[s].texts,
        matched_eval_items: before[s].items.size,
        kept_items: src.after.length,
        contaminated_train_texts: after[s].texts,
        contaminated_eval_texts: after[s].items.size,
        overlapping_ngrams: after[s].ngrams.size,
      });
  }
  return rows;
};

/**
 * A stable number in [0, 1) from a text's normalised words and a salt: texts with the same word
 * sequence (whatever their case and punctuation) get the same number, on every machine and run. A
 * data-level held-out pool is `stableUnit(text, salt) < fraction`: it depends on nothing but the text.
 */
export const stableUnit = (text: string, salt: string): number => {
  const words = normalizeWords(text).join(" ");
  return fmix32(fnv1a(`${salt}\u0000${words}`) ^ murmurish(words)) / 2 ** 32;
};
