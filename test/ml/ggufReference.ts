// An independent float64 forward pass of a Llama GGUF file, in plain loops, written from the
// architecture's definition rather than from ml/lm.ts or the loader: it reads the file's tensors in
// GGUF's own layout (q/k rows in the interleaved-pair RoPE order, no permutation), so it checks the
// loader's conversion and the model's numerics together.
import type { GgufFile } from "../../ml/formats/gguf.ts";

interface W { readonly rows: number; readonly cols: number; readonly data: Float64Array }

const weight = (f: GgufFile, name: string): W => {
  const t = f.readTensor(name);
  const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
  return { rows, cols, data: Float64Array.from(t.data) };
};

/** y = W x for a weight stored [out, in] (GGUF ne = [in, out]). */
const matvec = (w: W, x: Float64Array): Float64Array => {
  const y = new Float64Array(w.rows);
  for (let o = 0; o < w.rows; o++) {
    let s = 0;
    const off = o * w.cols;
    for (let i = 0; i < w.cols; i++) s += w.data[off + i] * x[i];
    y[o] = s;
  }
  return y;
};

const rmsNorm = (x: Float64Array, g: W, eps: number): Float64Array => {
  let ms = 0;
  for (const v of x) ms += v * v;
  const r = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * r * g.data[i]);
};

/** GGUF's RoPE: consecutive pairs (2i, 2i+1) of each head rotated by pos · theta^(−2i/headDim). */
const ropeInterleaved = (x: Float64Array, heads: number, headDim: number, pos: number, theta: number): Float64Array => {
  const y = Float64Array.from(x);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < headDim / 2; i++) {
      const a = pos * Math.pow(theta, (-2 * i) / headDim);
      const j = h * headDim + 2 * i;
      const [c, s] = [Math.cos(a), Math.sin(a)];
      y[j] = x[j] * c - x[j + 1] * s;
      y[j + 1] = x[j] * s + x[j + 1] * c;
    }
  return y;
};

/** Logits (T, V) of a Llama GGUF for one sequence, in float64. */
export const ggufLlamaLogits = (f: GgufFile, ids: readonly number[]): Float64Array[] => {
  const m = f.metadata as Record<string, number>;
  const d = m["llama.embedding_length"], L = m["llama.block_count"];
  const nh = m["llama.attention.head_count"], nkv = m["llama.attention.head_count_kv"];
  const eps = m["llama.attention.layer_norm_rms_epsilon"], theta = m["llama.rope.freq_base"] ?? 10000;
  const hd = d / nh;
  const emb = weight(f, "token_embd.weight");
  const head = f.tensorInfos.some((t) => t.name === "output.weight") ? weight(f, "output.weight") : emb;
  let x = ids.map((id) => emb.data.slice(id * d, (id + 1) * d));
  for (let l = 0; l < L; l++) {
    const w = (n: string) => weight(f, `blk.${l}.${n}.weight`);
    const [wq, wk, wv, wo, g1, g2, wg, wu, wd] = ["attn_q", "attn_k", "attn_v", "attn_output", "attn_norm", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"].map(w);
    const h = x.map((r) => rmsNorm(r, g1, eps));
    const q = h.map((r, t) => ropeInterleaved(matvec(wq, r), nh, hd, t, theta));
    const k = h.map((r, t) => ropeInterleaved(matvec(wk, r), nkv, hd, t, theta));
    const v = h.map((r) => matvec(wv, r));
    const att = x.map((_, t) => {
      const out = new Float64Array(d);
      for (let a = 0; a < nh; a++) {
        const kvh = Math.floor(a / (nh / nkv));
        const sc: number[] = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[t][a * hd + i] * k[s][kvh * hd + i];
          sc.push(dot / Math.sqrt(hd));
        }
        const mx = Math.max(...sc);
        const e = sc.map((z) => Math.exp(z - mx));
        const z = e.reduce((p, c) => p + c, 0);
        for (let s = 0; s <= t; s++) for (let i = 0; i < hd; i++) out[a * hd + i] += (e[s] / z) * v[s][kvh * hd + i];
      }
      return matvec(wo, out);
    });
    x = x.map((r, t) => r.map((z, i) => z + att[t][i]));
    const mlp = x.map((r) => {
      const h2 = rmsNorm(r, g2, eps);
      const gate = matvec(wg, h2), up = matvec(wu, h2);
      return matvec(wd, gate.map((a, i) => (a / (1 + Math.exp(-a))) * up[i]));
    });
    x = x.map((r, t) => r.map((z, i) => z + mlp[t][i]));
  }
  const norm = weight(f, "output_norm.weight");
  return x.map((r) => matvec(head, rmsNorm(r, norm, eps)));
};
