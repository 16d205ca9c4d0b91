// AdamW (Loshchilov & Hutter 2019), written out so its state is explicit and saveable:
//   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr * ( (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p )
// Weight decay is decoupled from the gradient and, as in GPT-2/nanoGPT, applied by default only
// to matrices (rank >= 2), not to biases or LayerNorm parameters (override with `decay`).
// The per-variable update is ops().adamwUpdate, so a fused kernel can replace it.
import * as tf from "@tensorflow/tfjs";
import { ops } from "./ops.ts";

export interface AdamWConfig {
  lr: number;
  betas?: readonly [number, number];
  weightDecay?: number;
  eps?: number;
  /** Which variables get weight decay; default: rank >= 2. */
  decay?: (name: string, v: tf.Variable) => boolean;
}

/** Optimizer state by variable name; `t` = number of updates applied. Tensors owned by the holder. */
export type AdamWState = { t: number; m: Record<string, tf.Tensor>; v: Record<string, tf.Tensor> };

export interface AdamW {
  /** Apply one update with learning rate `lr` and gradients by variable name (already clipped). */
  update(grads: Record<string, tf.Tensor>, lr: number): void;
  /** Copies of the state (caller disposes). */
  getState(): AdamWState;
  /** Restore from a state (copied; the argument stays owned by the caller). */
  setState(s: AdamWState): void;
  dispose(): void;
}

export const makeAdamW = (vars: Record<string, tf.Variable>, cfg: AdamWConfig): AdamW => {
  const [b1, b2] = cfg.betas ?? [0.9, 0.999];
  const eps = cfg.eps ?? 1e-8;
  const wd = cfg.weightDecay ?? 0;
  const decays = cfg.decay ?? ((_: string, v: tf.Variable) => v.rank >= 2);
  const zeros = (v: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(v), false));
  const m = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, zeros(v)]));
  const s = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, zeros(v)]));
  let t = 0;
  return {
    update(grads, lr) {
      t += 1;
      const c1 = 1 - b1 ** t;
      const c2 = 1 - b2 ** t;
      const o = ops();
      for (const [name, p] of Object.entries(vars)) {
        const g = grads[name];
        if (!g) continue; // frozen or unused in this loss
        o.adamwUpdate(p, g, m[name], s[name], { lr, b1, b2, t, c1, c2, eps, wd: wd > 0 && decays(name, p) ? wd : 0 });
      }
    },
    getState: () => ({
      t,
      m: Object.fromEntries(Object.entries(m).map(([k, x]) => [k, x.clone()])),
      v: Object.fromEntries(Object.entries(s).map(([k, x]) => [k, x.clone()])),
    }),
    setState(st) {
      t = st.t;
      for (const k of Object.keys(m)) {
        if (st.m[k]) m[k].assign(st.m[k]);
        if (st.v[k]) s[k].assign(st.v[k]);
      }
    },
    dispose() {
      tf.dispose([...Object.values(m), ...Object.values(s)]);
    },
  };
};

/** Learning rate at 0-based step: linear warmup over `warmup` steps, then cosine to minLr. */
export const lrAt = (step: number, steps: number, lr: number, schedule?: { warmup?: number; decay?: "cosine" | "constant"; minLrRatio?: number }): number => {
  const warmup = schedule?.warmup ?? 0;
  if (step < warmup) return (lr * (step + 1)) / warmup;
  if ((schedule?.decay ?? "cosine") === "constant") return lr;
  const minLr = lr * (schedule?.minLrRatio ?? 0.1);
  const progress = Math.min(1, (step - warmup) / Math.max(1, steps - warmup));
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
};
