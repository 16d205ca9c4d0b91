// Kernels that exist only on the "acft" backend: fused forward/backward pairs used by ../ops.ts
// and the AdamW update used by ../adamw.ts. Inputs are float32 (targets int32); shapes are checked
// by the callers in ../ops.ts, the addon re-checks array lengths.
import type { FastImpl } from "./util.ts";
import { alloc, f32, i32, output, size } from "./util.ts";

const need = <T>(v: T | null, what: string): T => {
  if (v === null) throw new Error(`acft fused kernel: ${what} must be a materialised tensor of the right dtype`);
  return v;
};
const lastDim = (shape: readonly number[]): number => shape[shape.length - 1];

// x (..., C), g (C), b (C) -> y (..., C), mean (R), rstd (R) with R = size / C
const layerNorm: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { x, g, b } = inputs;
  const c = lastDim(x.shape), rows = size(x.shape) / c;
  const y = alloc(backend, rows * c), mean = alloc(backend, rows), rstd = alloc(backend, rows);
  native.layerNormFwd(rows, c, need(f32(backend, x), "x"), need(f32(backend, g), "g"), need(f32(backend, b), "b"),
    attrs?.eps as number, y, mean, rstd);
  return [output(backend, x.shape.slice(), y), output(backend, [rows], mean), output(backend, [rows], rstd)];
};

const layerNormGrad: FastImpl = ({ inputs, backend }, native) => {
  const { dy, x, g, mean, rstd } = inputs;
  const c = lastDim(x.shape), rows = size(x.shape) / c;
  const dx = alloc(backend, rows * c), dg = alloc(backend, c), db = alloc(backend, c);
  native.layerNormBwd(rows, c, need(f32(backend, dy), "dy"), need(f32(backend, x), "x"), need(f32(backend, g), "g"),
    need(f32(backend, mean), "mean"), need(f32(backend, rstd), "rstd"), dx, dg, db);
  return [output(backend, x.shape.slice(), dx), output(backend, [c], dg), output(backend, [c], db)];
};

// x (..., C), g (C) -> y (..., C), rstd (R) with R = size / C
const rmsNorm: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { x, g } = inputs;
  const c = lastDim(x.shape), rows = size(x.shape) / c;
  const y = alloc(backend, rows * c), rstd = alloc(backend, rows);
  native.rmsNormFwd(rows, c, need(f32(backend, x), "x"), need(f32(backend, g), "g"), attrs?.eps as number, y, rstd);
  return [output(backend, x.shape.slice(), y), output(backend, [rows], rstd)];
};

const rmsNormGrad: FastImpl = ({ inputs, backend }, native) => {
  const { dy, x, g, rstd } = inputs;
  const c = lastDim(x.shape), rows = size(x.shape) / c;
  const dx = alloc(backend, rows * c), dg = alloc(backend, c);
  native.rmsNormBwd(rows, c, need(f32(backend, dy), "dy"), need(f32(backend, x), "x"), need(f32(backend, g), "g"),
    need(f32(backend, rstd), "rstd"), dx, dg);
  return [output(backend, x.shape.slice(), dx), output(backend, [c], dg)];
};

// gate, up (same shape) -> silu(gate) up
const swiglu: FastImpl = ({ inputs, backend }, native) => {
  const gv = need(f32(backend, inputs.gate), "gate");
  const y = alloc(backend, gv.length);
  native.swigluFwd(gv, need(f32(backend, inputs.up), "up"), y);
  return output(backend, inputs.gate.shape.slice(), y);
};

const swigluGrad: FastImpl = ({ inputs, backend }, native) => {
  const gv = need(f32(backend, inputs.gate), "gate");
  const dg = alloc(backend, gv.length), du = alloc(backend, gv.length);
  native.swigluBwd(need(f32(backend, inputs.dy), "dy"), gv, need(f32(backend, inputs.up), "up"), dg, du);
  return [output(backend, inputs.gate.shape.slice(), dg), output(backend, inputs.gate.shape.slice(), du)];
};

// x (B, H, T, D), cos/sin (1 or B, 1, T, D/2), attrs.sign (1 forward, -1 backward) -> (B, H, T, D)
const rope: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { x, cos, sin } = inputs;
  const [b, h, t, d] = x.shape;
  const y = alloc(backend, b * h * t * d);
  native.rope(b, h, t, d, cos.shape[0], need(f32(backend, x), "x"), need(f32(backend, cos), "cos"),
    need(f32(backend, sin), "sin"), attrs?.sign as number, y);
  return output(backend, x.shape.slice(), y);
};

const gelu: FastImpl = ({ inputs, backend }, native) => {
  const xv = need(f32(backend, inputs.x), "x");
  const y = alloc(backend, xv.length);
  native.geluFwd(xv, y);
  return output(backend, inputs.x.shape.slice(), y);
};

const geluGrad: FastImpl = ({ inputs, backend }, native) => {
  const xv = need(f32(backend, inputs.x), "x");
  const dx = alloc(backend, xv.length);
  native.geluBwd(need(f32(backend, inputs.dy), "dy"), xv, dx);
  return output(backend, inputs.x.shape.slice(), dx);
};

// logits (N, V), targets (N) int32 -> nll (N), lse (N)
const xent: FastImpl = ({ inputs, backend }, native) => {
  const { logits, targets } = inputs;
  const [n, v] = logits.shape;
  const nll = alloc(backend, n), lse = alloc(backend, n);
  const ok = native.xentFwd(n, v, need(f32(backend, logits), "logits"), need(i32(backend, targets), "targets"), nll, lse);
  if (!ok) throw new RangeError(`tokenCrossEntropy: a target is outside [0, ${v}) (the vocabulary size)`);
  return [output(backend, [n], nll), output(backend, [n], lse)];
};

const xentGrad: FastImpl = ({ inputs, backend }, native) => {
  const { dnll, logits, targets, lse } = inputs;
  const [n, v] = logits.shape;
  const dx = alloc(backend, n * v);
  native.xentBwd(n, v, need(f32(backend, dnll), "dnll"), need(f32(backend, logits), "logits"),
    need(i32(backend, targets), "targets"), need(f32(backend, lse), "lse"), dx);
  return output(backend, [n, v], dx);
};

const logSoftmax: FastImpl = ({ inputs, backend }, native) => {
  const { x } = inputs;
  const n = lastDim(x.shape), xv = need(f32(backend, x), "x");
  const y = alloc(backend, xv.length);
  if (xv.length > 0) native.logSoftmaxFwd(xv.length / n, n, xv, y);
  return output(backend, x.shape.slice(), y);
};

const logSoftmaxGrad: FastImpl = ({ inputs, backend }, native) => {
  const { dy, y } = inputs;
  const n = lastDim(y.shape), yv = need(f32(backend, y), "y");
  const dx = alloc(backend, yv.length);
  if (yv.length > 0) native.logSoftmaxBwd(yv.length / n, n, need(f32(backend, dy), "dy"), yv, dx);
  return output(backend, y.shape.slice(), dx);
};

// q (B, H, Tq, D), k, v (B, H, Tk, D), bias (B, 1, 1, Tk) optional -> out (B, H, Tq, D), p (B, H, Tq, Tk)
const attention: FastImpl = ({ inputs, backend }, native) => {
  const { q, k, v, bias } = inputs;
  const [b, h, tq, d] = q.shape, tk = k.shape[2];
  const out = alloc(backend, b * h * tq * d), p = alloc(backend, b * h * tq * tk);
  native.attentionFwd(b * h, h, tq, tk, d, need(f32(backend, q), "q"), need(f32(backend, k), "k"),
    need(f32(backend, v), "v"), bias ? need(f32(backend, bias), "keyBias") : null, out, p);
  return [output(backend, q.shape.slice(), out), output(backend, [b, h, tq, tk], p)];
};

// -> dq, dk, dv, ds (dS = gradient of the pre-softmax scores, (B, H, Tq, Tk)); attrs.causal: the
// forward had no key bias, so P is zero past each query's last key and those blocks are skipped.
const attentionGrad: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { dout, q, k, v, p } = inputs;
  const [b, h, tq, d] = q.shape, tk = k.shape[2];
  const dq = alloc(backend, b * h * tq * d), dk = alloc(backend, b * h * tk * d);
  const dv = alloc(backend, b * h * tk * d), ds = alloc(backend, b * h * tq * tk);
  native.attentionBwd(b * h, tq, tk, d, attrs?.causal ? 1 : 0, need(f32(backend, dout), "dout"), need(f32(backend, q), "q"),
    need(f32(backend, k), "k"), need(f32(backend, v), "v"), need(f32(backend, p), "p"), dq, dk, dv, ds);
  return [output(backend, q.shape.slice(), dq), output(backend, k.shape.slice(), dk),
    output(backend, v.shape.slice(), dv), output(backend, p.shape.slice(), ds)];
};

// p, g, m, v (same shape) -> p', m', v' (PyTorch AdamW semantics, see native/src/fused.cc)
const adamw: FastImpl = ({ inputs, attrs, backend }, native) => {
  const { p, g, m, v } = inputs;
  const n = size(p.shape);
  const po = alloc(backend, n), mo = alloc(backend, n), vo = alloc(backend, n);
  const a = attrs as { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number };
  native.adamw(need(f32(backend, p), "param"), need(f32(backend, g), "grad"), need(f32(backend, m), "m"),
    need(f32(backend, v), "v"), a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.step, po, mo, vo);
  return [output(backend, p.shape.slice(), po), output(backend, p.shape.slice(), mo), output(backend, p.shape.slice(), vo)];
};

/** The backend name registered by registerFastBackend. */
export const FAST_BACKEND = "acft";

/** Names of the fused kernels (registered on the "acft" backend only). */
export const FUSED = {
  layerNorm: "AcftLayerNorm", layerNormGrad: "AcftLayerNormGrad", gelu: "AcftGelu", geluGrad: "AcftGeluGrad",
  rmsNorm: "AcftRmsNorm", rmsNormGrad: "AcftRmsNormGrad", swiglu: "AcftSwiglu", swigluGrad: "AcftSwigluGrad", rope: "AcftRope",
  xent: "AcftXent", xentGrad: "AcftXentGrad", logSoftmax: "AcftLogSoftmax", logSoftmaxGrad: "AcftLogSoftmaxGrad",
  attention: "AcftAttention", attentionGrad: "AcftAttentionGrad", adamw: "AcftAdamW",
} as const;

export const fusedKernels = (): Record<string, FastImpl> => ({
  [FUSED.layerNorm]: layerNorm, [FUSED.layerNormGrad]: layerNormGrad, [FUSED.gelu]: gelu,
  [FUSED.geluGrad]: geluGrad, [FUSED.xent]: xent, [FUSED.xentGrad]: xentGrad, [FUSED.logSoftmax]: logSoftmax,
  [FUSED.logSoftmaxGrad]: logSoftmaxGrad, [FUSED.attention]: attention, [FUSED.attentionGrad]: attentionGrad,
  [FUSED.adamw]: adamw, [FUSED.rmsNorm]: rmsNorm, [FUSED.rmsNormGrad]: rmsNormGrad, [FUSED.swiglu]: swiglu,
  [FUSED.swigluGrad]: swigluGrad, [FUSED.rope]: rope,
});
