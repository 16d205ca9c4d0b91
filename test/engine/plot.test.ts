// SVG plots of sweep tables: which tables get one, and that the drawn points are the table's values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lineChartsSvg, sweepPlot } from "../../engine/Plot.ts";

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
