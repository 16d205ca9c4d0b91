// The schedules table's wall-clock: the critical path over measured job durations (docs/method.md §4).
import { test } from "node:test";
import assert from "node:assert/strict";
import { criticalPath } from "../../stages/schedules.ts";
import { subset } from "../../stages/corpora.ts";

test("critical path: iteration 1 is a chain in both schedules; later iterations sum (sequential) or max (parallel)", () => {
  const jobs = new Map([[1, [2, 3, 5]], [2, [2, 3, 5]], [3, [5]]]);
  assert.equal(criticalPath("sequential", jobs), 10 + 10 + 5);
  assert.equal(criticalPath("parallel", jobs), 10 + 5 + 5);
});

test("seeded subsets: deterministic, in order, without repeats, all when n ≥ length", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i);
  const a = subset(xs, 10, 7);
  assert.deepEqual(a, subset(xs, 10, 7));
  assert.notDeepEqual(a, subset(xs, 10, 8));
  assert.equal(new Set(a).size, 10);
  assert.deepEqual(a, [...a].sort((x, y) => x - y));
  assert.deepEqual(subset(xs, 200, 1), xs);
});
