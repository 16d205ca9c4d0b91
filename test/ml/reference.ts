// An independent float64 reference of the LM forward pass and loss, in plain TypeScript loops (no
// tfjs), written from the maths rather than from ml/lm.ts. Used to prove the tfjs model's numerics.
import type { LMConfig } from "../../ml/lm.ts";

export type Mat = Float64Array[]; // rows
/** Parameter values by the names of lmVariables(): flat float64 arrays with their shapes. */
export type RefParams = Record<string, { data: Float64Array; shape: number[] }>;

const row = (p: RefParams, name: string, r: number): Float64Array => {
  const { data, shape } = p[name];
  const n = shape[shape.length - 1];
  return data.subarray(r * n, (r + 1) * n);
};
const vec = (p: RefParams, name: string): Float64Array => p[name].data;

/** x (T, Cin) @ W (Cin, Cout) + b. */
const linear = (x: Mat, p: RefParams, w: string, b: string): Mat => {
  const [cin, cout] = p[w].shape;
  const W = p[w].data;
  const bias = vec(p, b);
  return x.map((xr) => {
    const y = Float64Array.from(bias);
    for (let i = 0; i < cin; i++) {
      const xi = xr[i];
      for (let j = 0; j < cout; j++) y[j] += xi * W[i * cout + j];
    }
    return y;
  });
};

const layerNorm = (x: Mat, g: Float64Array, b: Float64Array, eps = 1e-5): Mat =>
  x.map((r) => {
    const n = r.length;
    let mean = 0;
    for (const v of r) mean += v;
    mean /= n;
    let vr = 0;
    for (const v of r) vr += (v - mean) ** 2;
    vr /= n;
    const s = 1 / Math.sqrt(vr + eps);
    return r.map((v, i) => (v - mean) * s * g[i] + b[i]);
  });

const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** Logits (T, V) for one sequence of token ids. */
export const refForward = (p: RefParams, c: LMConfig, ids: number[]): Mat => {
  const T = ids.length;
  const C = c.dModel;
  const hs = C / c.nHeads;
  let x: Mat = ids.map((id, t) => {
    const e = row(p, "wte", id);
    const q = row(p, "wpe", t);
    return e.map((v, i) => v + q[i]);
  });
  for (let l = 0; l < c.nLayers; l++) {
    const h = layerNorm(x, vec(p, `h${l}.ln1G`), vec(p, `h${l}.ln1B`));
    const qkv = linear(h, p, `h${l}.attnW`, `h${l}.attnB`); // (T, 3C): q | k | v
    const y: Mat = Array.from({ length: T }, () => new Float64Array(C));
    for (let hd = 0; hd < c.nHeads; hd++) {
      const o = hd * hs;
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let d = 0;
          for (let i = 0; i < hs; i++) d += qkv[t][o + i] * qkv[s][C + o + i];
          scores.push(d / Math.sqrt(hs));
        }
        const m = Math.max(...scores);
        const e = scores.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= t; s++) for (let i = 0; i < hs; i++) y[t][o + i] += (e[s] / z) * qkv[s][2 * C + o + i];
      }
    }
    const proj = linear(y, p, `h${l}.projW`, `h${l}.projB`);
    x = x.map((r, t) => r.map((v, i) => v + proj[t][i]));
    const h2 = layerNorm(x, vec(p, `h${l}.ln2G`), vec(p, `h${l}.ln2B`));
    const fc = linear(h2, p, `h${l}.fcW`, `h${l}.fcB`).map((r) => r.map(gelu));
    const mlp = linear(fc, p, `h${l}.fc2W`, `h${l}.fc2B`);
    x = x.map((r, t) => r.map((v, i) => v + mlp[t][i]));
  }
  const hf = layerNorm(x, vec(p, "lnfG"), vec(p, "lnfB"));
  const V = c.vocabSize;
  return hf.map((r) => {
    const out = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      const w = row(p, "wte", v);
      let d = 0;
      for (let i = 0; i < C; i++) d += r[i] * w[i];
      out[v] = d;
    }
    return out;
  });
};

/** -log softmax(logits)[target] in float64. */
export const refCrossEntropy = (logits: Float64Array, target: number): number => {
  let m = -Infinity;
  for (const v of logits) m = Math.max(m, v);
  let z = 0;
  for (const v of logits) z += Math.exp(v - m);
  return Math.log(z) + m - logits[target];
};

/** Masked mean next-token loss over a batch of sequences (each of length T+1), as lmLoss. */
export const refLoss = (p: RefParams, c: LMConfig, batch: number[][], mask?: number[][]): number => {
  let num = 0;
  let den = 0;
  batch.forEach((seq, b) => {
    const logits = refForward(p, c, seq.slice(0, -1));
    logits.forEach((lg, t) => {
      const w = mask ? mask[b][t] : 1;
      num += w * refCrossEntropy(lg, seq[t + 1]);
      den += w;
    });
  });
  return num / Math.max(den, 1);
};
