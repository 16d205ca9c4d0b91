// ml/prng.ts permutation: a permutation of 0..n−1, seeded, and uniform over the n! orders.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeRng, permutation } from "../../ml/prng.ts";

test("permutation: every index once, the same for the same stream, uniform over the 3! orders (6000 draws)", () => {
  for (const n of [0, 1, 2, 17]) assert.deepEqual([...permutation(n, makeRng(n))].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  assert.deepEqual(permutation(50, makeRng(4)), permutation(50, makeRng(4)));
  assert.notDeepEqual(permutation(50, makeRng(4)), permutation(50, makeRng(5)));
  const counts = new Map<string, number>();
  const rng = makeRng(9);
  for (let k = 0; k < 6000; k++) {
    const key = permutation(3, rng).join("");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal(counts.size, 6);
  // Each order has probability 1/6: count ~ Binomial(6000, 1/6), sd ≈ 28.9; ±150 is > 5 sd.
  for (const [k, c] of counts) assert.ok(Math.abs(c - 1000) < 150, `order ${k}: ${c} of 6000`);
});
