// A small seeded PRNG (sfc32) with named sub-streams, so that each part of the synthetic world
// draws from its own stream: changing the size of one part never reshuffles another.

/** FNV-1a 32-bit hash of a string: derives sub-stream seeds from (seed, label). */
const fnv1a = (s: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
};

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: string) {
    this.a = fnv1a(`a:${seed}`);
    this.b = fnv1a(`b:${seed}`);
    this.c = fnv1a(`c:${seed}`);
    this.d = 1;
    for (let i = 0; i < 15; i++) this.nextU32(); // mix the state
  }

  /** An independent stream for a named part of the world. */
  fork(label: string): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  nextU32(): number {
    // sfc32 (Chris Doty-Humphrey's Small Fast Counting RNG), 32-bit state words
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** A new array, Fisher-Yates shuffled. */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** k distinct elements (k ≤ xs.length). */
  sample<T>(xs: readonly T[], k: number): T[] {
    return this.shuffle(xs).slice(0, k);
  }
}
