// ml/batches.ts: the masks select exactly the text/EOS targets (never the prompt or padding), D_reg
// follows the example's flag, long texts get in-range windows, prompted examples keep their end;
// packRows (the packer of NADO samples and RL rollouts too) masks exactly the continuation targets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { drawBatch, packRows, type EncodedExample } from "../../ml/batches.ts";

const ex = (ids: number[], targetFrom: number, regularise: boolean): EncodedExample => ({ ids, targetFrom, regularise });

test("mask covers targets at or after targetFrom; padding and prompt are 0; reg = mask on D_reg", () => {
  const data = [ex([100, 1, 2, 3, 101], 1, true), ex([100, 7, 8, 9, 10, 5, 101], 4, false)];
  for (let step = 0; step < 20; step++) {
    const b = drawBatch(data, 3, 16, 99, 1, step);
    for (let r = 0; r < b.B; r++) {
      const row = Array.from(b.ids.slice(r * (b.T + 1), (r + 1) * (b.T + 1)));
      const e = row[1] === 1 ? data[0] : data[1];
      const len = e.ids.length;
      assert.deepEqual(row.slice(0, len), e.ids);
      assert.ok(row.slice(len).every((x) => x === 99), "right-padded");
      for (let t = 0; t < b.T; t++) {
        const want = t + 1 < len && t + 1 >= e.targetFrom ? 1 : 0;
        assert.equal(b.mask[r * b.T + t], want, `row ${r} t ${t}`);
        assert.equal(b.reg[r * b.T + t], e.regularise ? want : 0);
      }
    }
  }
});

test("long sequences: windows of contextLength + 1 tokens inside the sequence; prompted ones end at the end", () => {
  const long = ex(Array.from({ length: 50 }, (_, i) => i), 1, false);
  const prompted = ex(Array.from({ length: 30 }, (_, i) => 200 + i), 28, false);
  const starts = new Set<number>();
  for (let step = 0; step < 30; step++) {
    const b = drawBatch([long], 1, 8, 0, 3, step);
    assert.equal(b.T, 8);
    const row = Array.from(b.ids);
    assert.deepEqual(row, Array.from({ length: 9 }, (_, i) => row[0] + i));
    starts.add(row[0]);
    const p = drawBatch([prompted], 1, 8, 0, 3, step);
    assert.deepEqual(Array.from(p.ids), Array.from({ length: 9 }, (_, i) => 221 + i));
    assert.deepEqual(Array.from(p.mask), [0, 0, 0, 0, 0, 0, 1, 1]); // targets 228, 229 only
  }
  assert.ok(starts.size > 5, "different windows over the steps");
  assert.deepEqual(drawBatch([long], 2, 8, 0, 3, 4), drawBatch([long], 2, 8, 0, 3, 4), "deterministic in (seed, step)");
});

test("packRows: prompt ⊕ continuation rows right-padded; mask = continuation targets; reg = mask on D_reg rows; T ≥ 1", () => {
  const b = packRows([{ ids: [1, 2, 5, 6, 7], targetFrom: 2, regularise: true }, { ids: [1, 4], targetFrom: 1 }, { ids: [3, 3, 3], targetFrom: 3 }], 9);
  assert.deepEqual([b.B, b.T], [3, 4]);
  assert.deepEqual(Array.from(b.ids), [1, 2, 5, 6, 7, 1, 4, 9, 9, 9, 3, 3, 3, 9, 9]);
  assert.deepEqual(Array.from(b.mask), [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(b.reg), [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  const one = packRows([{ ids: [7], targetFrom: 1 }], 0);
  assert.deepEqual([one.T, Array.from(one.ids), Array.from(one.mask)], [1, [7, 0], [0]]);
});
