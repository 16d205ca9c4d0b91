// NADO's losses and its guided distribution, written against plain tensors (base log-probs and
// NADO logits) so that the same code serves the exact toys and the transformers.
//
// Conventions. ids (B, T) is the sequence both models read; position t is the prefix h_t = ids[:, 0..t].
//   z       (B, T, V)  NADO logits:  R_φ(h_t ⊕ v) = σ(z[b, t, v])                     (docs/method.md §2)
//   logp    (B, T, V)  base log-probs log p(v | h_t)
//   targets (B, T)     the realised next token ids[b, t+1] (anything where mask = 0)
//   mask    (B, T)     1 where targets[b, t] is a sampled continuation token, else 0
//   labels  (B)        C(x_b) ∈ [0, 1] (hard or soft)
//   weights (B)        self-normalised importance weights (sum 1), uniform 1/B when sampled from p
import * as tf from "@tensorflow/tfjs";

/** log σ(z) = −softplus(−z): finite for any finite z; −∞ only for z = −∞ (an exact R = 0). */
export const logSigmoid = (z: tf.Tensor): tf.Tensor => tf.neg(tf.softplus(tf.neg(z)));

/**
 * log q(v | h) with q(v|h) ∝ p(v|h) · R(h ⊕ v)^α (α = 1 is the paper; α > 0).
 * pLogits (..., V) any logits of p (normalised or not), z (..., V) NADO logits -> (..., V).
 */
export const guidedLogProbs = (pLogits: tf.Tensor, z: tf.Tensor, alpha = 1): tf.Tensor =>
  tf.tidy(() => tf.logSoftmax(tf.add(tf.logSoftmax(pLogits), tf.mul(logSigmoid(z), alpha))));

/** log σ(z) for one number, stably (−softplus(−z)). */
const logSig = (z: number): number => (z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z)));

/**
 * Pick x[..., idx[...]] on the last axis. x (B, T, V), idx (B, T) int32 -> (B, T). Differentiable in x.
 * A gather over typed arrays with its own gradient (a scatter of dy): the one-hot product it replaces
 * built two (B, T, V) tensors each way, ~0.2 s of a NADO step at B 16, T 48, V 1024.
 */
export const pickLast = (x: tf.Tensor3D, idx: tf.Tensor2D): tf.Tensor2D => {
  const [B, T, V] = x.shape;
  const at = Int32Array.from(idx.dataSync());
  const f = tf.customGrad(((xs: tf.Tensor3D, save: tf.GradSaveFunc) => {
    save([]);
    const xv = xs.dataSync();
    const out = new Float32Array(B * T);
    for (let r = 0; r < B * T; r++) out[r] = xv[r * V + at[r]];
    return {
      value: tf.tensor2d(out, [B, T]),
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync();
        const dx = new Float32Array(B * T * V);
        for (let r = 0; r < B * T; r++) dx[r * V + at[r]] = g[r];
        return tf.tensor3d(dx, [B, T, V]);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor2D;
};

/**
 * The consistency identity's right-hand side and its complement, in logs, for every position:
 *   out[b, t, 0] = log Σ_v p(v|h_t) σ(z[b,t,v]),   out[b, t, 1] = log Σ_v p(v|h_t) σ(−z[b,t,v])
 * z, logp (B, T, V) -> (B, T, 2). One pass per row over typed arrays, with its own gradient:
 *   ∂out0/∂z_v = s_v σ(−z_v), ∂out1/∂z_v = −s'_v σ(z_v), ∂out0/∂logp_v = s_v, ∂out1/∂logp_v = s'_v
 * (s, s' the row's softmax weights of logp + log σ(±z)). tfjs's composed logSumExp and the slice/pad of
 * its gradient took ~1.3 s of a 1.5 s NADO step at B 16, T 48, V 1024; this takes milliseconds.
 */
export const childMass = (z: tf.Tensor3D, logp: tf.Tensor3D): tf.Tensor3D => {
  const [B, T, V] = z.shape;
  const rows = B * T;
  const f = tf.customGrad(((zs: tf.Tensor3D, lps: tf.Tensor3D, save: tf.GradSaveFunc) => {
    save([]);
    const zv = zs.dataSync(), lv = lps.dataSync();
    const out = new Float32Array(rows * 2);
    const a = new Float64Array(V), c = new Float64Array(V);
    const lse = (x: Float64Array): number => {
      let m = -Infinity;
      for (let v = 0; v < V; v++) if (x[v] > m) m = x[v];
      if (m === -Infinity) return m;
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(x[v] - m);
      return m + Math.log(sum);
    };
    for (let r = 0; r < rows; r++) {
      for (let v = 0, i = r * V; v < V; v++, i++) {
        const lsp = logSig(zv[i]); // log σ(z); log σ(−z) = log σ(z) − z
        a[v] = lv[i] + lsp;
        c[v] = lv[i] + lsp - zv[i];
      }
      out[2 * r] = lse(a);
      out[2 * r + 1] = lse(c);
    }
    return {
      value: tf.tensor3d(out, [B, T, 2]),
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync();
        const dz = new Float32Array(rows * V), dl = new Float32Array(rows * V);
        for (let r = 0; r < rows; r++) {
          const [g0, g1, o0, o1] = [g[2 * r], g[2 * r + 1], out[2 * r], out[2 * r + 1]];
          if (o0 === -Infinity || o1 === -Infinity) continue;
          for (let v = 0, i = r * V; v < V; v++, i++) {
            const lsp = logSig(zv[i]), lsm = lsp - zv[i]; // log σ(z), log σ(−z)
            const s0 = Math.exp(lv[i] + lsp - o0), s1 = Math.exp(lv[i] + lsm - o1);
            dz[i] = g0 * s0 * Math.exp(lsm) - g1 * s1 * Math.exp(lsp);
            dl[i] = g0 * s0 + g1 * s1;
          }
        }
        return [tf.tensor3d(dz, [B, T, V]), tf.tensor3d(dl, [B, T, V])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(z, logp) as tf.Tensor3D;
};

/** Self-normalised importance weights w_b = softmax_b(log p(x_b) − log q(x_b)), (B) -> (B), sum 1. */
export const importanceWeights = (logp: tf.Tensor1D, logq: tf.Tensor1D): tf.Tensor1D =>
  tf.tidy(() => tf.softmax(tf.sub(logp, logq)) as tf.Tensor1D);

/**
 * KL(Bern(a) ‖ Bern(b)) from log a, log(1−a), log b, log(1−b) (all (...)), elementwise:
 * a (log a − log b) + (1 − a)(log(1−a) − log(1−b)). Working in logs keeps it finite near 0 and 1.
 */
export const bernoulliKL = (logA: tf.Tensor, log1mA: tf.Tensor, logB: tf.Tensor, log1mB: tf.Tensor): tf.Tensor =>
  tf.add(tf.mul(tf.exp(logA), tf.sub(logA, logB)), tf.mul(tf.exp(log1mA), tf.sub(log1mA, log1mB)));

export interface NadoBatch {
  readonly z: tf.Tensor3D;
  readonly logp: tf.Tensor3D;
  readonly targets: tf.Tensor2D;
  readonly mask: tf.Tensor2D;
  readonly labels: tf.Tensor1D;
  /** Sum-1 weights; omitted = uniform. */
  readonly weights?: tf.Tensor1D;
}

export interface NadoLossParts {
  /** bce + β · consistency (the training objective). */
  readonly loss: tf.Scalar;
  /** Weighted mean over continuation positions of BCE(σ(z_{t}[x_{t+1}]), c). */
  readonly bce: tf.Scalar;
  /** Weighted mean over positions with a continuation after them of the consistency KL. */
  readonly consistency: tf.Scalar;
}

/**
 * The NADO objective (docs/method.md §2), for each sample b and continuation position t:
 *   bce_bt = BCE(σ(z[b,t,x_{t+1}]), c_b)            — every prefix shares the sequence label; its
 *                                                      minimiser is the true R (a weighted frequency)
 *   kl_bt  = KL(Bern(σ(z[b,t,x_{t+1}])) ‖ Bern(Σ_v p(v|h_{t+1}) σ(z[b,t+1,v])))
 *                                                    — the consistency identity R(h) = Σ_v p(v|h)R(h⊕v),
 *                                                      only where h_{t+1} is itself continued (mask[t+1]).
 * Each is averaged with weight w_b per position (Σ_bt w_b m_bt ℓ_bt / Σ_bt w_b m_bt), so the weighted
 * per-prefix minimiser is Pr_p[C | h] also when samples come from a proposal q and w ∝ p/q.
 * Gradients flow into z on both sides of the consistency KL (both are R_φ).
 */
export const nadoLoss = (b: NadoBatch, beta = 0.5): NadoLossParts =>
  tf.tidy(() => {
    const [B, T] = b.targets.shape;
    const w = (b.weights ?? tf.fill([B], 1 / B)).reshape([B, 1]);
    const zr = pickLast(b.z, b.targets); // (B, T) logit of R(h_{t+1})
    const logA = logSigmoid(zr);
    const log1mA = logSigmoid(tf.neg(zr));
    const c = b.labels.reshape([B, 1]);
    const bce = tf.neg(tf.add(tf.mul(c, logA), tf.mul(tf.sub(1, c), log1mA))); // (B, T)
    const wm = tf.mul(b.mask, w); // (B, T)
    const bceMean = tf.div(tf.sum(tf.mul(bce, wm)), tf.maximum(tf.sum(wm), 1e-12)) as tf.Scalar;
    if (T < 2) return { loss: bceMean, bce: bceMean, consistency: tf.scalar(0) };
    // Children of h_{t+1}: log Σ_v p(v|h_{t+1}) σ(z[t+1, v]) and log Σ_v p(v|h_{t+1}) σ(−z[t+1, v]).
    const cm = childMass(b.z, b.logp); // (B, T, 2); sliced after the reduction, where it is cheap
    const logB = cm.slice([0, 1, 0], [B, T - 1, 1]).reshape([B, T - 1]);
    const log1mB = cm.slice([0, 1, 1], [B, T - 1, 1]).reshape([B, T - 1]);
    const kl = bernoulliKL(logA.slice([0, 0], [B, T - 1]), log1mA.slice([0, 0], [B, T - 1]), logB, log1mB);
    const km = tf.mul(tf.mul(b.mask.slice([0, 0], [B, T - 1]), b.mask.slice([0, 1], [B, T - 1])), w);
    const klMean = tf.div(tf.sum(tf.mul(kl, km)), tf.maximum(tf.sum(km), 1e-12)) as tf.Scalar;
    return { loss: tf.add(bceMean, tf.mul(klMean, beta)) as tf.Scalar, bce: bceMean, consistency: klMean };
  });

/** logit(mean label) for the head bias, clamped to (ε, 1−ε) so an all-0/all-1 batch stays finite. */
export const headBiasFor = (labels: ArrayLike<number>, weights?: ArrayLike<number>, eps = 1e-4): number => {
  let s = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    const w = weights ? weights[i] : 1;
    s += w * labels[i];
    n += w;
  }
  const m = Math.min(1 - eps, Math.max(eps, s / n));
  return Math.log(m / (1 - m));
};
