// Dependency-free SVG line charts for result tables: one small panel per numeric column against a
// numeric first column (a sweep: λ, α, iterations…). `acft tables` writes them next to the .md/.csv.
export interface Series { readonly name: string; readonly values: ReadonlyArray<number | null> }
/** A series with its own x values (a training curve: step → loss). */
export interface Curve { readonly name: string; readonly x: ReadonlyArray<number>; readonly y: ReadonlyArray<number> }

const W = 260, H = 170, M = { l: 46, r: 12, t: 26, b: 34 };
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : v.toPrecision(3));

/** [lo, hi] with a little room, never empty (a constant series gets ±0.5 or ±5 %). */
const range = (vs: number[]): [number, number] => {
  const lo = Math.min(...vs), hi = Math.max(...vs);
  if (lo === hi) { const d = lo === 0 ? 0.5 : Math.abs(lo) * 0.05; return [lo - d, hi + d]; }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
};

/** One panel at (ox, oy): y against x, points joined in x order, the x values and the y range labelled. */
const panel = (x: readonly number[], s: Series, ox: number, xName: string, oy = 0, dots = true): string => {
  const pts = x.map((xv, i) => [xv, s.values[i]] as const).filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1])).sort((a, b) => a[0] - b[0]);
  if (pts.length === 0) return "";
  const [x0, x1] = range(pts.map((p) => p[0])), [y0, y1] = range(pts.map((p) => p[1]));
  const px = (v: number) => ox + M.l + ((v - x0) / (x1 - x0)) * (W - M.l - M.r);
  const py = (v: number) => oy + M.t + (1 - (v - y0) / (y1 - y0)) * (H - M.t - M.b);
  const line = pts.map(([a, b]) => `${px(a).toFixed(1)},${py(b).toFixed(1)}`).join(" ");
  const xs = dots ? [...new Set(pts.map((p) => p[0]))] : [pts[0][0], pts[pts.length - 1][0]];
  return [
    `<text x="${ox + M.l}" y="${oy + 16}" font-size="12" font-weight="bold">${esc(s.name)}</text>`,
    `<rect x="${ox + M.l}" y="${oy + M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#bbb"/>`,
    `<polyline points="${line}" fill="none" stroke="#1f6fb4" stroke-width="2"/>`,
    ...(dots ? pts : []).map(([a, b]) => `<circle cx="${px(a).toFixed(1)}" cy="${py(b).toFixed(1)}" r="3" fill="#1f6fb4"><title>${esc(`${xName} ${a}: ${fmt(b)}`)}</title></circle>`),
    ...xs.map((a) => `<text x="${px(a).toFixed(1)}" y="${oy + H - M.b + 14}" font-size="10" text-anchor="middle">${fmt(a)}</text>`),
    `<text x="${ox + M.l + (W - M.l - M.r) / 2}" y="${oy + H - 6}" font-size="11" text-anchor="middle">${esc(xName)}</text>`,
    ...[y0, y1].map((v) => `<text x="${ox + M.l - 4}" y="${py(v).toFixed(1)}" font-size="10" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`),
  ].join("\n");
};

/** Small multiples: one panel per series against x, side by side, as a standalone SVG document. */
export const lineChartsSvg = (title: string, xName: string, x: readonly number[], series: readonly Series[]): string => {
  const width = W * Math.max(1, series.length);
  const body = series.map((s, i) => panel(x, s, i * W, xName)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" font-family="sans-serif">\n<title>${esc(title)}</title>\n${body}\n</svg>\n`;
};

const asNumber = (v: unknown): number | null => (typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : null);

/**
 * The plot of a result table, if it is a sweep: every row's first column is a number (or a numeric
 * string), there are ≥ 2 rows, and some other column is numeric. Provenance and id-like columns are skipped.
 */
export const sweepPlot = (name: string, rows: ReadonlyArray<Record<string, unknown>>, skip: ReadonlyArray<string>): string | undefined => {
  if (rows.length < 2) return undefined;
  const cols = Object.keys(rows[0]);
  const xName = cols[0];
  const x = rows.map((r) => asNumber(r[xName]));
  if (x.some((v) => v === null)) return undefined;
  const series = cols.slice(1).filter((c) => !skip.includes(c))
    .map((c) => ({ name: c, values: rows.map((r) => (typeof r[c] === "number" ? (r[c] as number) : null)) }))
    .filter((s) => s.values.some((v) => v !== null));
  return series.length === 0 ? undefined : lineChartsSvg(name, xName, x as number[], series);
};

/** Curves (each with its own x), one panel each, `columns` panels per row: e.g. every stage's training loss. */
export const curvesSvg = (title: string, xName: string, curves: readonly Curve[], columns = 4): string => {
  const cols = Math.max(1, Math.min(columns, curves.length));
  const rows = Math.ceil(curves.length / cols);
  const body = curves.map((c, i) => panel(c.x, { name: c.name, values: c.y }, (i % cols) * W, xName, Math.floor(i / cols) * H, c.x.length <= 12)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * cols}" height="${H * Math.max(1, rows)}" font-family="sans-serif">\n<title>${esc(title)}</title>\n${body}\n</svg>\n`;
};
