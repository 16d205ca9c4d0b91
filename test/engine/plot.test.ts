// SVG plots of sweep and by-group tables: which tables get one, and that the drawn points and bars are the table's values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { groupPlot, lineChartsSvg, sweepPlot } from "../../engine/Plot.ts";

const points = (svg: string): Array<Array<[number, number]>> =>
  [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1].split(" ").map((p) => p.split(",").map(Number) as [number, number]));

test("a sweep table (numeric first column) gets one panel per numeric column; others get none", () => {
  const rows = [
    { lambda: "1", toxicity_pct: 24, perplexity: 6.45, note: "x", cache_key: "abc" },
    { lambda: "0", toxicity_pct: 41, perplexity: 6.45, note: "y", cache_key: "abc" },
    { lambda: "3", toxicity_pct: 0, perplexity: 6.43, note: "z", cache_key: "abc" },
  ];
  const svg = sweepPlot("lambda_sweep", rows, ["cache_key"])!;
  assert.ok(svg.startsWith("<svg"));
  assert.match(svg, /<title>lambda_sweep<\/title>/);
  const lines = points(svg);
  assert.equal(lines.length, 2); // toxicity_pct and perplexity; "note" is text, cache_key skipped
  const tox = lines[0];
  // Points in x order (0, 1, 3): x increasing, and toxicity 41 > 24 > 0 drawn top to bottom (SVG y grows down).
  assert.deepEqual(tox.map((p) => p[0]), [...tox.map((p) => p[0])].sort((a, b) => a - b));
  assert.ok(tox[0][1] < tox[1][1] && tox[1][1] < tox[2][1]);
  // Equal x steps map to equal pixel steps (linear axis): λ 0→1 is a third of 0→3.
  assert.ok(Math.abs((tox[1][0] - tox[0][0]) * 3 - (tox[2][0] - tox[0][0])) < 0.2);
  assert.match(svg, /<title>lambda 3: 0<\/title>/);
  assert.equal(sweepPlot("table1", [{ method: "SFT", tox: 1 }, { method: "RL", tox: 0 }], []), undefined);
  assert.equal(sweepPlot("one", [{ x: 1, y: 2 }], []), undefined);
  assert.equal(sweepPlot("textonly", [{ x: 1, y: "a" }, { x: 2, y: "b" }], []), undefined);
});

test("labels are escaped and a constant series still draws inside its panel", () => {
  const svg = lineChartsSvg("a<b & c", "x", [1, 2], [{ name: "y<1>", values: [5, 5] }]);
  assert.match(svg, /a&lt;b &amp; c/);
  assert.match(svg, /y&lt;1&gt;/);
  const [line] = points(svg);
  assert.ok(line.every(([, y]) => y > 26 && y < 170 - 34));
});

/** Bars as [title, height] in document order. */
const bars = (svg: string): Array<[string, number]> =>
  [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="#[0-9a-f]+"><title>([^<]+)<\/title>/g)].map((m) => [m[2], Number(m[1])]);

test("a method × group table gets grouped bars: one panel per numeric column, bar heights proportional to the values", () => {
  const rows = [
    { method: "SFT", group: "asian", n: 10, toxicity_pct: 40, cache_key: "k", instance_id: "toxicity-by-group" },
    { method: "SFT", group: "women", n: 5, toxicity_pct: 20, cache_key: "k", instance_id: "toxicity-by-group" },
    { method: "RL", group: "asian", n: 10, toxicity_pct: 10, cache_key: "k", instance_id: "toxicity-by-group" },
    { method: "RL", group: "women", n: 5, toxicity_pct: 0, cache_key: "k", instance_id: "toxicity-by-group" },
  ];
  const svg = groupPlot("toxicity_by_group", rows, ["cache_key", "instance_id"])!;
  assert.ok(svg.startsWith("<svg"));
  const b = bars(svg);
  // panel n: 4 bars; panel toxicity_pct: 3 bars (a zero bar has height 0 but is still drawn) — 8 in all
  assert.equal(b.length, 8);
  const tox = new Map(b.slice(4).map(([t, h]) => [t, h]));
  assert.deepEqual([...tox.keys()], ["SFT · asian: 40", "RL · asian: 10", "SFT · women: 20", "RL · women: 0"]); // clustered by group
  const h40 = tox.get("SFT · asian: 40")!;
  assert.ok(Math.abs(tox.get("SFT · women: 20")! * 2 - h40) < 0.2 && Math.abs(tox.get("RL · asian: 10")! * 4 - h40) < 0.2);
  assert.equal(tox.get("RL · women: 0"), 0);
  assert.match(svg, />SFT<\/text>/); // legend
  // several instances (one per seed): panels per instance, titled with it
  const two = groupPlot("t", [...rows, ...rows.map((r) => ({ ...r, instance_id: "seed2/toxicity-by-group" }))], ["cache_key", "instance_id"])!;
  assert.equal(bars(two).length, 16);
  assert.match(two, /toxicity_pct \(seed2\/toxicity-by-group\)/);
  // not this kind of table: Table 1 (one key), metric_directions (no numbers), duplicated keys, sweeps
  assert.equal(groupPlot("table1", [{ method: "SFT", tox: 1 }, { method: "RL", tox: 0 }], []), undefined);
  assert.equal(groupPlot("dirs", [{ metric: "a", direction: "lower", description: "x" }, { metric: "b", direction: "higher", description: "y" }], []), undefined);
  assert.equal(groupPlot("dup", [{ a: "x", b: "y", v: 1 }, { a: "x", b: "y", v: 2 }], []), undefined);
  assert.equal(groupPlot("winrates", [{ method: "SFT", vs_rl: null, vs_sft: 0.5 }, { method: "RL", vs_rl: 0.5, vs_sft: null }], []), undefined);
});
