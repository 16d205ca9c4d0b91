// The model's hot ops, in one table. Every model in ml/ calls these ONLY through `ops()`, so a
// fused/native implementation (ml/fast/, issue 7) can replace any of them at run time with
// `setOpsImpl({ gelu: fastGelu })`, and `resetOpsImpl()` restores the pure-tfjs references below.
// A replacement must keep the signature, the maths and the differentiability of the reference.
import * as tf from "@tensorflow/tfjs";

export interface OpsImpl {
  /** y = x W + b over the last axis. x (..., Cin), w (Cin, Cout), b (Cout) -> (..., Cout). */
  linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor;
  /** LayerNorm over the last axis (biased variance, as PyTorch): (x - mean)/sqrt(var + eps) * g + b. */
  layerNorm(x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D, eps?: number): tf.Tensor;
  /** RMSNorm over the last axis (Zhang & Sennrich 2019, as Llama): x / sqrt(mean(x^2) + eps) * g. */
  rmsNorm(x: tf.Tensor, g: tf.Tensor1D, eps?: number): tf.Tensor;
  /** GELU, GPT-2's tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  gelu(x: tf.Tensor): tf.Tensor;
  /** SwiGLU's gating (Shazeer 2020): silu(gate) * up with silu(a) = a sigmoid(a); same shapes. */
  swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor;
  /**
   * Rotary position embedding (Su et al. 2021) in the rotate-half layout (as transformers' Llama):
   * with x = [x1 | x2] split at hs/2 over the last axis, returns [x1 cos - x2 sin | x2 cos + x1 sin].
   * x (B, n, T, hs); cos, sin (B or 1, 1, T, hs/2) for the angles pos * theta^(-2i/hs).
   */
  rope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D;
  /**
   * Causal scaled dot-product attention. q (B, nh, Tq, hs), k and v (B, nh, Tk, hs) with Tk >= Tq:
   * the Tq queries are the LAST Tq positions of the Tk keys (KV-cache decoding has Tq = 1), so
   * query i may attend keys j <= Tk - Tq + i. keyBias (B, 1, 1, Tk), optional, is added to the
   * scores (0 = keep, -1e9 = mask; used to hide left padding). Returns (B, nh, Tq, hs).
   */
  causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, keyBias?: tf.Tensor4D): tf.Tensor4D;
  /** Per-token cross-entropy -log softmax(logits)[target]. logits (N, V), targets (N) int32 -> (N). */
  tokenCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D;
  /**
   * Masked mean cross-entropy: sum_i mask_i * CE_i / max(sum_i mask_i, 1). mask (N) float 0/1 (or
   * weights); without a mask every token counts. Returns a scalar.
   */
  softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, mask?: tf.Tensor1D): tf.Scalar;
  /** log softmax over the last axis. */
  logSoftmax(logits: tf.Tensor): tf.Tensor;
  /**
   * One AdamW update of a variable in place (ml/adamw.ts documents the maths): m, v are its moment
   * variables; t is the 1-based update count, c1 = 1 - b1^t, c2 = 1 - b2^t the bias corrections;
   * wd = 0 for no decay. (p - lr (adam + wd p) = p (1 - lr wd) - lr adam: PyTorch's AdamW.)
   */
  adamwUpdate(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, h: AdamWHyper): void;
}

export interface AdamWHyper { lr: number; b1: number; b2: number; t: number; c1: number; c2: number; eps: number; wd: number }

/** A large negative finite score: exp underflows to 0 yet an all-masked row stays finite. */
export const MASKED = -1e9;

const linear: OpsImpl["linear"] = (x, w, b) => {
  const shape = x.shape;
  const cin = shape[shape.length - 1];
  // (..., Cin) -> (N, Cin) @ (Cin, Cout) -> (..., Cout)
  const y2 = tf.matMul(x.reshape([-1, cin]), w);
  const y = b ? tf.add(y2, b) : y2;
  return y.reshape([...shape.slice(0, -1), w.shape[1]]);
};

const layerNorm: OpsImpl["layerNorm"] = (x, g, b, eps = 1e-5) => {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), g), b);
};

const rmsNorm: OpsImpl["rmsNorm"] = (x, g, eps = 1e-5) =>
  tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g);

const swiglu: OpsImpl["swiglu"] = (gate, up) => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);

const rope: OpsImpl["rope"] = (x, cos, sin) => {
  const [x1, x2] = tf.split(x, 2, -1);
  return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], -1) as tf.Tensor4D;
};

const GELU_C = Math.sqrt(2 / Math.PI);
const gelu: OpsImpl["gelu"] = (x) => {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
};

/** Additive causal bias (Tq, Tk): 0 where key j <= Tk - Tq + i, MASKED elsewhere. */
const causalBias = (tq: number, tk: number): tf.Tensor2D => {
  const rows = tf.range(tk - tq, tk, 1, "int32").reshape([tq, 1]);
  const cols = tf.range(0, tk, 1, "int32").reshape([1, tk]);
  return tf.mul(tf.cast(tf.greater(cols, rows), "float32"), MASKED) as tf.Tensor2D;
};

const causalAttention: OpsImpl["causalAttention"] = (q, k, v, keyBias) => {
  const [, , tq, hs] = q.shape;
  const tk = k.shape[2];
  // scores (B, nh, Tq, Tk) = q k^T / sqrt(hs)  (Vaswani et al. 2017, eq. 1)
  let scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(hs)), k, false, true) as tf.Tensor4D;
  scores = tf.add(scores, causalBias(tq, tk));
  if (keyBias) scores = tf.add(scores, keyBias);
  const att = tf.softmax(scores, -1);
  return tf.matMul(att, v) as tf.Tensor4D; // (B, nh, Tq, Tk) @ (B, nh, Tk, hs) -> (B, nh, Tq, hs)
};

const tokenCrossEntropy: OpsImpl["tokenCrossEntropy"] = (logits, targets) => {
  // tf.losses.softmaxCrossEntropy has a fused gradient (softmax - onehot); differentiating a
  // hand-written log-sum-exp is ~1 s/step slower on wasm (../shared/PERF-NOTES.md).
  const onehot = tf.oneHot(tf.cast(targets, "int32"), logits.shape[1]);
  return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, tf.Reduction.NONE) as tf.Tensor1D;
};

const softmaxCrossEntropy: OpsImpl["softmaxCrossEntropy"] = (logits, targets, mask) => {
  const ce = impl.tokenCrossEntropy(logits, targets);
  if (!mask) return tf.mean(ce);
  return tf.div(tf.sum(tf.mul(ce, mask)), tf.maximum(tf.sum(mask), 1));
};

const logSoftmax: OpsImpl["logSoftmax"] = (logits) => tf.logSoftmax(logits, -1);

const adamwUpdate: OpsImpl["adamwUpdate"] = (p, g, m, v, h) =>
  tf.tidy(() => {
    const mN = tf.add(tf.mul(m, h.b1), tf.mul(g, 1 - h.b1));
    const vN = tf.add(tf.mul(v, h.b2), tf.mul(tf.square(g), 1 - h.b2));
    m.assign(mN);
    v.assign(vN);
    let upd = tf.div(tf.div(mN, h.c1), tf.add(tf.sqrt(tf.div(vN, h.c2)), h.eps));
    if (h.wd > 0) upd = tf.add(upd, tf.mul(p, h.wd));
    p.assign(tf.sub(p, tf.mul(upd, h.lr)));
  });

/** The pure-tfjs reference implementations. */
export const referenceOps: Readonly<OpsImpl> = Object.freeze({
  linear,
  layerNorm,
  rmsNorm,
  gelu,
  swiglu,
  rope,
  causalAttention,
  tokenCrossEntropy,
  softmaxCrossEntropy,
  logSoftmax,
  adamwUpdate,
});

let impl: OpsImpl = { ...referenceOps };

/** The current op table (reference ops unless replaced). */
export const ops = (): Readonly<OpsImpl> => impl;

/** Replace some ops (e.g. by fused native kernels); the others keep their current implementation. */
export const setOpsImpl = (partial: Partial<OpsImpl>): void => {
  impl = { ...impl, ...partial };
};

/** Restore every op to its pure-tfjs reference. */
export const resetOpsImpl = (): void => {
  impl = { ...referenceOps };
};

/** Per-token log-probability of `targets`: log softmax(logits)[target]. (N, V), (N) -> (N). */
export const tokenLogProbs = (logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D =>
  tf.neg(ops().tokenCrossEntropy(logits, targets));
