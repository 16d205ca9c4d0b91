// Fused replacements for the model's hot ops (ml/ops.ts OpsImpl), each one native kernel forward
// and one backward, wired with tf.customGrad. The kernels exist on the "acft" backend only; the
// exported `fastOps` check the active backend per call and use the references elsewhere. They keep
// the references' signatures and maths, up to float32 rounding.
import * as tf from "@tensorflow/tfjs";
import { FAST_BACKEND, FUSED } from "./kernels/fused.ts";
import { referenceOps, type OpsImpl } from "../ops.ts";
import { adamwStep } from "./adamw.ts";

const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown> = {}): tf.Tensor[] => {
  const r = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);
  return Array.isArray(r) ? (r as tf.Tensor[]) : [r as tf.Tensor];
};

type Forward = (inputs: tf.Tensor[], save: tf.GradSaveFunc) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
};

/** tf.customGrad over positional tensor inputs (the last argument tfjs passes is `save`). */
const fused = (f: Forward): ((...inputs: tf.Tensor[]) => tf.Tensor) =>
  tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const { value, gradFunc } = f(args.slice(0, -1) as tf.Tensor[], args[args.length - 1] as tf.GradSaveFunc);
    return { value, gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => gradFunc(dy as tf.Tensor, saved) };
  }) as Parameters<typeof tf.customGrad>[0]);

/**
 * Whether a gradient tape is recording (inside tf.grads / variableGrads). Without one (inference,
 * decoding) the ops below run their forward kernel directly: tf.customGrad's bookkeeping costs
 * ~150 us a call, more than a decode-step kernel itself.
 */
const taping = (): boolean => (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();

/** Runs a multi-output forward kernel, keeps output 0 and disposes the saved-for-backward rest. */
const forwardOnly = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown> = {}): tf.Tensor => {
  const [y, ...rest] = run(name, inputs, attrs);
  tf.dispose(rest);
  return y;
};

const assertShape = (ok: boolean, op: string, detail: () => string): void => {
  if (!ok) throw new RangeError(`${op}: ${detail()}`);
};

/** LayerNorm over the last axis, biased variance (as PyTorch). x (..., C), g (C), b (C). */
export const layerNorm = (x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D, eps = 1e-5): tf.Tensor => {
  const c = x.shape[x.shape.length - 1];
  assertShape(g.size === c && b.size === c, "layerNorm", () => `gain/bias of size ${g.size}/${b.size} for ${c} features`);
  if (!taping()) return forwardOnly(FUSED.layerNorm, { x, g, b }, { eps });
  const f = fused(([x, g, b], save) => {
    const [y, mean, rstd] = run(FUSED.layerNorm, { x, g, b }, { eps });
    save([x, g, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy, [xs, gs, m, r]) => run(FUSED.layerNormGrad, { dy, x: xs, g: gs, mean: m, rstd: r }),
    };
  });
  return f(x, g, b);
};

/** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * g. x (..., C), g (C). */
export const rmsNorm = (x: tf.Tensor, g: tf.Tensor1D, eps = 1e-5): tf.Tensor => {
  const c = x.shape[x.shape.length - 1];
  assertShape(g.size === c, "rmsNorm", () => `gain of size ${g.size} for ${c} features`);
  if (!taping()) return forwardOnly(FUSED.rmsNorm, { x, g }, { eps });
  const f = fused(([x, g], save) => {
    const [y, rstd] = run(FUSED.rmsNorm, { x, g }, { eps });
    save([x, g, rstd]);
    return { value: y, gradFunc: (dy, [xs, gs, r]) => run(FUSED.rmsNormGrad, { dy, x: xs, g: gs, rstd: r }) };
  });
  return f(x, g);
};

/** SwiGLU gating silu(gate) * up (same shapes). */
export const swiglu = (gate: tf.Tensor, up: tf.Tensor): tf.Tensor => {
  assertShape(gate.shape.join() === up.shape.join(), "swiglu", () => `gate ${JSON.stringify(gate.shape)} and up ${JSON.stringify(up.shape)} differ`);
  if (!taping()) return run(FUSED.swiglu, { gate, up })[0];
  const f = fused(([gate, up], save) => {
    save([gate, up]);
    return { value: run(FUSED.swiglu, { gate, up })[0], gradFunc: (dy, [g, u]) => run(FUSED.swigluGrad, { dy, gate: g, up: u }) };
  });
  return f(gate, up);
};

/**
 * Rotary embedding, rotate-half layout, as ml/ops.ts: x (B, H, T, D), cos/sin (B or 1, 1, T, D/2).
 * The backward is the inverse rotation (sign -1); cos/sin get no gradient (zeros: they are constants).
 */
export const rope = (x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D => {
  const [b, , t, d] = x.shape;
  assertShape(d % 2 === 0 && cos.shape.join() === sin.shape.join() && (cos.shape[0] === 1 || cos.shape[0] === b)
    && cos.shape[1] === 1 && cos.shape[2] === t && cos.shape[3] === d / 2, "rope",
    () => `x ${JSON.stringify(x.shape)}, cos ${JSON.stringify(cos.shape)}, sin ${JSON.stringify(sin.shape)}`);
  if (!taping()) return run(FUSED.rope, { x, cos, sin }, { sign: 1 })[0] as tf.Tensor4D;
  const f = fused(([x, cos, sin], save) => {
    save([cos, sin]);
    return {
      value: run(FUSED.rope, { x, cos, sin }, { sign: 1 })[0],
      gradFunc: (dy, [c, s]) => [run(FUSED.rope, { x: dy, cos: c, sin: s }, { sign: -1 })[0], tf.zerosLike(c), tf.zerosLike(s)],
    };
  });
  return f(x, cos, sin) as tf.Tensor4D;
};

/** GELU, GPT-2 tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
const geluTaped: (x: tf.Tensor) => tf.Tensor = fused(([x], save) => {
  save([x]);
  return { value: run(FUSED.gelu, { x })[0], gradFunc: (dy, [xs]) => run(FUSED.geluGrad, { dy, x: xs })[0] };
});
export const gelu = (x: tf.Tensor): tf.Tensor => (taping() ? geluTaped(x) : run(FUSED.gelu, { x })[0]);

/** Per-token cross-entropy -log softmax(logits)[target]: (N, V), (N) int32 -> (N). */
export const tokenCrossEntropy = (logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D => {
  assertShape(logits.rank === 2 && targets.rank === 1 && targets.size === logits.shape[0], "tokenCrossEntropy",
    () => `logits ${JSON.stringify(logits.shape)} need (N, V) and targets ${JSON.stringify(targets.shape)} (N)`);
  const t = targets.dtype === "int32" ? targets : tf.cast(targets, "int32");
  const f = fused(([logits, targets], save) => {
    const [nll, lse] = run(FUSED.xent, { logits, targets });
    save([logits, targets, lse]);
    return {
      value: nll,
      gradFunc: (dnll, [l, tg, s]) => [run(FUSED.xentGrad, { dnll, logits: l, targets: tg, lse: s })[0], tf.zerosLike(tg)],
    };
  });
  const out = f(logits, t) as tf.Tensor1D;
  if (t !== targets) t.dispose();
  return out;
};

/** Masked mean cross-entropy sum_i mask_i CE_i / max(sum_i mask_i, 1) (mean without a mask). */
export const softmaxCrossEntropy = (logits: tf.Tensor2D, targets: tf.Tensor1D, mask?: tf.Tensor1D): tf.Scalar =>
  tf.tidy(() => {
    const ce = tokenCrossEntropy(logits, targets);
    if (!mask) return tf.mean(ce);
    return tf.div(tf.sum(tf.mul(ce, mask)), tf.maximum(tf.sum(mask), 1));
  });

/** log softmax over the last axis. */
export const logSoftmax: (x: tf.Tensor) => tf.Tensor = fused(([x], save) => {
  const y = run(FUSED.logSoftmax, { x })[0];
  save([y]);
  return { value: y, gradFunc: (dy, [ys]) => run(FUSED.logSoftmaxGrad, { dy, y: ys })[0] };
});

/**
 * Causal attention as ml/ops.ts: q (B, nh, Tq, hs), k/v (B, nh, Tk, hs), the Tq queries are the
 * last Tq positions; keyBias (B, 1, 1, Tk) is added to the scores. Saves P (B, nh, Tq, Tk).
 */
export const causalAttention = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, keyBias?: tf.Tensor4D): tf.Tensor4D => {
  const [b, h, tq, d] = q.shape, tk = k.shape[2];
  assertShape(k.shape.join() === v.shape.join() && k.shape[0] === b && k.shape[1] === h && k.shape[3] === d && tq <= tk,
    "causalAttention", () => `q ${JSON.stringify(q.shape)}, k ${JSON.stringify(k.shape)}, v ${JSON.stringify(v.shape)}`);
  assertShape(!keyBias || keyBias.shape.join() === [b, 1, 1, tk].join(), "causalAttention",
    () => `keyBias ${JSON.stringify(keyBias!.shape)} must be ${JSON.stringify([b, 1, 1, tk])}`);
  if (!taping()) return forwardOnly(FUSED.attention, keyBias ? { q, k, v, bias: keyBias } : { q, k, v }) as tf.Tensor4D;
  const backward = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const [qs, ks, vs, p] = saved;
    const [dq, dk, dv, ds] = run(FUSED.attentionGrad, { dout: dy, q: qs, k: ks, v: vs, p }, { causal: !keyBias });
    if (!keyBias) {
      ds.dispose();
      return [dq, dk, dv];
    }
    // d keyBias (B, 1, 1, Tk) = sum over heads and queries of dS.
    const dBias = tf.sum(ds, [1, 2], true);
    ds.dispose();
    return [dq, dk, dv, dBias];
  };
  const f = fused(([q, k, v, bias], save) => {
    const [out, p] = run(FUSED.attention, bias ? { q, k, v, bias } : { q, k, v });
    save([q, k, v, p]);
    return { value: out, gradFunc: backward };
  });
  return (keyBias ? f(q, k, v, keyBias) : f(q, k, v)) as tf.Tensor4D;
};

/** AdamW for ml/adamw.ts (ops().adamwUpdate): one native pass per parameter, see ../adamw.ts. */
export const adamwUpdate: OpsImpl["adamwUpdate"] = (p, g, m, v, h) =>
  adamwStep(p, g, { m, v }, h.t, { lr: h.lr, beta1: h.b1, beta2: h.b2, eps: h.eps, weightDecay: h.wd });

/** `fast` on the acft backend, `ref` on any other. */
const onAcft = <F extends (...args: never[]) => unknown>(fast: F, ref: F): F =>
  ((...args: Parameters<F>) => (tf.getBackend() === FAST_BACKEND ? fast(...args) : ref(...args))) as F;

/**
 * The fused ops for ml/ops.ts setOpsImpl (linear stays the reference: it is native BatchMatMul +
 * Add). Safe on any backend: off "acft" each falls back to its reference.
 */
export const fastOps: Partial<OpsImpl> = {
  layerNorm: onAcft(layerNorm, referenceOps.layerNorm),
  gelu: onAcft(gelu, referenceOps.gelu),
  rmsNorm: onAcft(rmsNorm, referenceOps.rmsNorm),
  swiglu: onAcft(swiglu, referenceOps.swiglu),
  rope: onAcft(rope, referenceOps.rope),
  causalAttention: onAcft(causalAttention, referenceOps.causalAttention),
  tokenCrossEntropy: onAcft(tokenCrossEntropy, referenceOps.tokenCrossEntropy),
  softmaxCrossEntropy: onAcft(softmaxCrossEntropy, referenceOps.softmaxCrossEntropy),
  logSoftmax: onAcft(logSoftmax, referenceOps.logSoftmax),
  adamwUpdate: onAcft(adamwUpdate, referenceOps.adamwUpdate),
};
