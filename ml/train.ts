// ONE generic training loop for every stage (LM pretraining, SFT, NADO, regularised fine-tuning,
// RL): gradient accumulation, global-norm clipping, AdamW with warmup + cosine, periodic eval,
// progress callbacks, checkpoint/resume. Deterministic given deterministic `batches(step, micro)`
// and a `loss` that derives any randomness (dropout) from ctx.seed: then a resumed run equals an
// uninterrupted one bit for bit on the same backend.
import * as tf from "@tensorflow/tfjs";
import { type AdamWConfig, type AdamWState, lrAt, makeAdamW } from "./adamw.ts";
import { check, NonFiniteLossError } from "./errors.ts";
import { deriveSeed } from "./prng.ts";

export interface StepContext {
  /** 0-based optimizer step. */
  step: number;
  /** 0-based micro-batch within the step (gradient accumulation). */
  micro: number;
  /** A seed unique to (train seed, step, micro), for dropout etc. */
  seed: number;
}

export interface HistoryEntry { step: number; loss: number; lr: number; gradNorm: number; evalLoss?: number }

/** Everything needed to resume: the number of completed steps, parameters, optimizer, history. */
export type TrainState = { step: number; params: Record<string, tf.Tensor>; optimizer: AdamWState; history: HistoryEntry[] };

export interface TrainProgress extends HistoryEntry {
  /** Completed steps (1-based) of `steps`. */
  done: number;
  steps: number;
  elapsedMs: number;
  etaMs: number;
}

export interface TrainOptions<B> {
  /** Trainable variables by name (a subset freezes the rest). */
  variables: Record<string, tf.Variable>;
  /** Scalar loss for one micro-batch; called inside tf.variableGrads (synchronous, no awaits). */
  loss: (batch: B, ctx: StepContext) => tf.Scalar;
  /** The micro-batch for (step, micro); must be deterministic for resume to be exact. */
  batches: (step: number, micro: number) => B;
  steps: number;
  optimizer: AdamWConfig;
  schedule?: { warmup?: number; decay?: "cosine" | "constant"; minLrRatio?: number };
  /** Clip the global gradient norm to this value (PyTorch clip_grad_norm_ semantics). */
  clipNorm?: number;
  /** Micro-batches per optimizer step; gradients are averaged over them. */
  accumulate?: number;
  evalEvery?: number;
  /** Held-out loss, run every `evalEvery` steps and after the last step. */
  evalLoss?: () => number | Promise<number>;
  onProgress?: (p: TrainProgress) => void;
  /**
   * Save every `every` completed steps (tensors in the state are disposed after save resolves);
   * `load` returns the state to resume from, or undefined to start fresh (its tensors are copied
   * and then disposed by train).
   */
  checkpoint?: { every: number; save: (s: TrainState) => void | Promise<void>; load?: () => TrainState | undefined | Promise<TrainState | undefined> };
  seed?: number;
}

/** Mean loss and gradients (by variable name) over the micro-batches of one step. */
const stepGradients = <B>(o: TrainOptions<B>, step: number, names: Map<string, string>): { loss: number; grads: Record<string, tf.Tensor> } => {
  const acc = o.accumulate ?? 1;
  const varList = Object.values(o.variables);
  let grads: Record<string, tf.Tensor> = {};
  let lossSum = 0;
  for (let micro = 0; micro < acc; micro++) {
    const batch = o.batches(step, micro);
    const ctx = { step, micro, seed: deriveSeed(o.seed ?? 0, step, micro) };
    const { value, grads: g } = tf.variableGrads(() => o.loss(batch, ctx), varList);
    lossSum += value.dataSync()[0];
    value.dispose();
    const prev = grads;
    grads = {};
    for (const [vName, t] of Object.entries(g)) {
      const name = names.get(vName)!;
      grads[name] = prev[name] ? tf.tidy(() => tf.add(prev[name], t)) : t;
      if (prev[name]) { prev[name].dispose(); t.dispose(); }
    }
  }
  if (acc > 1) grads = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.div(g, acc)])));
  return { loss: lossSum / acc, grads };
};

/** Global L2 norm of all gradients, and the gradients scaled to norm <= clipNorm. */
const clipGradients = (grads: Record<string, tf.Tensor>, clipNorm?: number): { norm: number; grads: Record<string, tf.Tensor> } => {
  const sq = tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
  const norm = Math.sqrt(sq.dataSync()[0]);
  sq.dispose();
  if (!clipNorm || !(norm > clipNorm)) return { norm, grads };
  const scale = clipNorm / (norm + 1e-6);
  const clipped = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)])));
  return { norm, grads: clipped };
};

export const snapshot = (vars: Record<string, tf.Variable>): Record<string, tf.Tensor> =>
  Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.clone()]));

/** Run the loop; returns the history of all steps (including those before a resume). */
export const train = async <B>(o: TrainOptions<B>): Promise<HistoryEntry[]> => {
  check(Number.isInteger(o.steps) && o.steps >= 0, "steps", `train: steps must be a non-negative integer, got ${o.steps}`);
  check(o.optimizer.lr > 0, "optimizer.lr", `train: optimizer.lr must be > 0, got ${o.optimizer.lr}`);
  check((o.accumulate ?? 1) >= 1 && Number.isInteger(o.accumulate ?? 1), "accumulate", `train: accumulate must be an integer >= 1`);
  const names = new Map(Object.entries(o.variables).map(([k, v]) => [v.name, k]));
  const opt = makeAdamW(o.variables, o.optimizer);
  let history: HistoryEntry[] = [];
  let start = 0;
  const resumed = o.checkpoint?.load ? await o.checkpoint.load() : undefined;
  if (resumed) {
    for (const [k, v] of Object.entries(o.variables)) if (resumed.params[k]) v.assign(resumed.params[k]);
    opt.setState(resumed.optimizer);
    ({ step: start, history } = resumed);
    history = [...history];
    tf.dispose([...Object.values(resumed.params), ...Object.values(resumed.optimizer.m), ...Object.values(resumed.optimizer.v)]);
  }
  const t0 = Date.now();
  try {
    for (let step = start; step < o.steps; step++) {
      const { loss, grads: raw } = stepGradients(o, step, names);
      const { norm, grads } = clipGradients(raw, o.clipNorm);
      if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
        tf.dispose([...Object.values(raw), ...Object.values(grads)]);
        const what = Number.isFinite(loss) ? `gradient norm ${norm}` : `loss ${loss}`;
        throw new NonFiniteLossError({ step, value: Number.isFinite(loss) ? norm : loss, message: `training diverged at step ${step}: ${what}; lower the learning rate, enable clipNorm, or check the data of this step` });
      }
      const lr = lrAt(step, o.steps, o.optimizer.lr, o.schedule);
      opt.update(grads, lr);
      tf.dispose(grads !== raw ? [...Object.values(raw), ...Object.values(grads)] : Object.values(raw));
      const entry: HistoryEntry = { step, loss, lr, gradNorm: norm };
      const last = step === o.steps - 1;
      if (o.evalLoss && ((o.evalEvery && (step + 1) % o.evalEvery === 0) || last)) entry.evalLoss = await o.evalLoss();
      history.push(entry);
      const elapsedMs = Date.now() - t0;
      const done = step + 1;
      o.onProgress?.({ ...entry, done, steps: o.steps, elapsedMs, etaMs: (elapsedMs / (done - start)) * (o.steps - done) });
      if (o.checkpoint && (done % o.checkpoint.every === 0 || last)) {
        const state: TrainState = { step: done, params: snapshot(o.variables), optimizer: opt.getState(), history: [...history] };
        try { await o.checkpoint.save(state); } finally {
          tf.dispose([...Object.values(state.params), ...Object.values(state.optimizer.m), ...Object.values(state.optimizer.v)]);
        }
      }
    }
  } finally {
    opt.dispose();
  }
  return history;
};
