// AdamW update (Loshchilov & Hutter 2019, PyTorch's torch.optim.AdamW semantics):
//   p <- p (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
//   p <- p - lr m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t).
// `adamwStep` is one native pass per parameter on the "acft" backend (tfjs needs ~12 ops);
// `adamwStepReference` is the same update in plain tfjs ops, for any backend and for tests.
import * as tf from "@tensorflow/tfjs";
import { FUSED } from "./kernels/fused.ts";

export interface AdamWHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

/** Optimizer state of one parameter: first and second moments, same shape as the parameter. */
export interface AdamWSlot {
  readonly m: tf.Variable;
  readonly v: tf.Variable;
}

const checkStep = (step: number): void => {
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`adamw: step must be an integer >= 1 (got ${step})`);
};

/** Updates param, m and v in place for 1-based `step` (fused native kernel; "acft" backend only). */
export const adamwStep = (param: tf.Variable, grad: tf.Tensor, slot: AdamWSlot, step: number, hp: AdamWHyper): void => {
  checkStep(step);
  const r = tf.engine().runKernel(FUSED.adamw, { p: param, g: grad, m: slot.m, v: slot.v }, { ...hp, step }) as tf.Tensor[];
  param.assign(r[0]);
  slot.m.assign(r[1]);
  slot.v.assign(r[2]);
  r.forEach((t) => t.dispose());
};

/** The same update with plain tfjs ops (any backend). */
export const adamwStepReference = (param: tf.Variable, grad: tf.Tensor, slot: AdamWSlot, step: number,
  hp: AdamWHyper): void => {
  checkStep(step);
  const { lr, beta1, beta2, eps, weightDecay } = hp;
  const [p, m, v] = tf.tidy(() => {
    const m = tf.add(tf.mul(slot.m, beta1), tf.mul(grad, 1 - beta1));
    const v = tf.add(tf.mul(slot.v, beta2), tf.mul(tf.square(grad), 1 - beta2));
    const mHat = tf.div(m, 1 - Math.pow(beta1, step));
    const vHat = tf.div(v, 1 - Math.pow(beta2, step));
    const decayed = tf.mul(param, 1 - lr * weightDecay);
    const p = tf.sub(decayed, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), eps)), lr));
    return [p, m, v];
  });
  param.assign(p);
  slot.m.assign(m);
  slot.v.assign(v);
  [p, m, v].forEach((t) => t.dispose());
};
