// Dependency-free SVG charts for result tables: line charts, one small panel per numeric column against
// a numeric first column (a sweep: λ, α, iterations…), and grouped bars for long-format two-key tables
// (method × group). `acft tables` writes them next to the .md/.csv.
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

// ---------------------------------------------------------------- grouped bars

const PALETTE = ["#1f6fb4", "#e6862a", "#3a9a3a", "#c8372d", "#8c62b4", "#8a5a44", "#d470b8", "#7f7f7f", "#b5b82a", "#1fb4c4"];

/** A bar panel: one cluster per category, one bar per series in it (values may be null: no bar). */
export interface BarPanel { readonly title: string; readonly categories: readonly string[]; readonly series: readonly Series[] }

const BAR_H = 210, BAR_M = { l: 46, r: 10, t: 26, b: 70 };
const barPanelWidth = (p: BarPanel) => BAR_M.l + BAR_M.r + Math.max(120, p.categories.length * (p.series.length * 9 + 8));

const barPanel = (p: BarPanel, ox: number, oy: number): string => {
  const w = barPanelWidth(p), plotW = w - BAR_M.l - BAR_M.r, plotH = BAR_H - BAR_M.t - BAR_M.b;
  const vs = p.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const y1 = vs.length === 0 ? 1 : Math.max(...vs, 0) === 0 ? 1 : Math.max(...vs, 0) * 1.08;
  const y0 = Math.min(0, ...vs);
  const py = (v: number) => oy + BAR_M.t + (1 - (v - y0) / (y1 - y0)) * plotH;
  const slot = plotW / Math.max(1, p.categories.length), bw = Math.max(1, (slot - 8) / Math.max(1, p.series.length));
  const bars = p.categories.flatMap((cat, ci) => p.series.flatMap((s, si) => {
    const v = s.values[ci];
    if (v === null || !Number.isFinite(v)) return [];
    const x = ox + BAR_M.l + ci * slot + 4 + si * bw, top = Math.min(py(v), py(0)), h = Math.abs(py(v) - py(0));
    return [`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${s.name} · ${cat}: ${fmt(v)}`)}</title></rect>`];
  }));
  const labels = p.categories.map((cat, ci) => {
    const x = ox + BAR_M.l + (ci + 0.5) * slot, y = oy + BAR_H - BAR_M.b + 10;
    return `<text x="${x.toFixed(1)}" y="${y}" font-size="10" text-anchor="end" transform="rotate(-40 ${x.toFixed(1)} ${y})">${esc(cat)}</text>`;
  });
  return [
    `<text x="${ox + BAR_M.l}" y="${oy + 16}" font-size="12" font-weight="bold">${esc(p.title)}</text>`,
    `<rect x="${ox + BAR_M.l}" y="${oy + BAR_M.t}" width="${plotW}" height="${plotH}" fill="none" stroke="#bbb"/>`,
    ...bars, ...labels,
    ...[y0, (y0 + y1) / 2, y1].map((v) => `<text x="${ox + BAR_M.l - 4}" y="${py(v).toFixed(1)}" font-size="10" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`),
  ].join("\n");
};

/** Grouped bar charts, panels stacked vertically, with one legend of the series on top. */
export const groupedBarsSvg = (title: string, panels: readonly BarPanel[]): string => {
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const legendH = 18;
  const width = Math.max(300, ...panels.map(barPanelWidth));
  const legend = names.map((n, i) => {
    const x = 10 + (i % 4) * Math.floor((width - 20) / 4), y = 4 + Math.floor(i / 4) * legendH;
    return `<rect x="${x}" y="${y + 3}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 14}" y="${y + 12}" font-size="11">${esc(n)}</text>`;
  });
  const top = Math.ceil(names.length / 4) * legendH + 6;
  const body = panels.map((p, i) => barPanel(p, 0, top + i * BAR_H)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + BAR_H * Math.max(1, panels.length)}" font-family="sans-serif">\n<title>${esc(title)}</title>\n${legend.join("\n")}\n${body}\n</svg>\n`;
};

/**
 * The plot of a long-format two-key table (series × category, e.g. method × group): every row's first two
 * columns are text, (first, second) pairs are unique within an instance, and some other column is numeric.
 * One bar panel per numeric column (categories in order of first appearance, one bar per series); rows of
 * several instances (e.g. one per seed) get their panels each, titled with the instance id.
 */
export const groupPlot = (name: string, rows: ReadonlyArray<Record<string, unknown>>, skip: ReadonlyArray<string>): string | undefined => {
  if (rows.length < 2) return undefined;
  const cols = Object.keys(rows[0]);
  if (cols.length < 3) return undefined;
  const [sName, cName] = cols;
  if (!rows.every((r) => typeof r[sName] === "string" && typeof r[cName] === "string")) return undefined;
  const numeric = cols.slice(2).filter((c) => !skip.includes(c) && rows.some((r) => typeof r[c] === "number"));
  if (numeric.length === 0) return undefined;
  const instances = [...new Set(rows.map((r) => String(r.instance_id ?? "")))];
  const panels: BarPanel[] = [];
  for (const inst of instances) {
    const rs = rows.filter((r) => String(r.instance_id ?? "") === inst);
    const keys = new Set(rs.map((r) => `${r[sName]}\u0000${r[cName]}`));
    if (keys.size !== rs.length) return undefined; // not keyed by (series, category): not this kind of table
    const series = [...new Set(rs.map((r) => r[sName] as string))], cats = [...new Set(rs.map((r) => r[cName] as string))];
    for (const c of numeric) {
      const at = new Map(rs.map((r) => [`${r[sName]}\u0000${r[cName]}`, typeof r[c] === "number" ? (r[c] as number) : null]));
      panels.push({
        title: instances.length > 1 ? `${c} (${inst})` : c, categories: cats,
        series: series.map((s) => ({ name: s, values: cats.map((cat) => at.get(`${s}\u0000${cat}`) ?? null) })),
      });
    }
  }
  return groupedBarsSvg(name, panels);
};
