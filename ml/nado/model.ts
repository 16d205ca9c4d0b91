// The NADO model R_φ (docs/method.md §2): a separate, smaller transformer that reads the token ids
// (optionally plus the base model's hidden states) and outputs, at every position t and for every
// vocabulary token v, a logit z_t[v] with R_φ(h_t ⊕ v) = σ(z_t[v]). It reuses the ML core's
// embeddings and transformer body; only the head differs (untied, (C, V) + bias (V)).
import * as tf from "@tensorflow/tfjs";
import { stopGradient } from "../grad.ts";
import { type BodyParams, type ForwardOptions, type LMConfig, type LMOutput, bodyVariables, embed, initBody, transformerBody } from "../lm.ts";
import { deriveSeed, makeRng } from "../prng.ts";

export interface NadoConfig {
  /** The NADO transformer's own size; vocabSize must equal the base model's. */
  readonly body: LMConfig;
  /** Width of the base model's hidden states when they are an extra input (0/undefined = ids only). */
  readonly baseHidden?: number;
}

export interface NadoParams extends BodyParams {
  wte: tf.Variable; // (V, C) token embedding (not tied to the head)
  wpe: tf.Variable; // (T, C)
  headW: tf.Variable; // (C, V) zero at init
  headB: tf.Variable; // (V)   logit(mean label) at init, so R_φ is constant and q = p at start
  baseProj?: tf.Variable; // (Cb, C) zero at init: base hidden states enter the residual stream
}

let instance = 0;

/** Initialise: body as the ML core's, head weights 0 and bias `bias` (= logit(mean label)). */
export const initNado = (cfg: NadoConfig, seed: number, bias: number): NadoParams => {
  const c = cfg.body;
  const prefix = `nado${instance++}/`;
  const rng = makeRng(deriveSeed(seed, 1));
  const normal = (name: string, shape: number[], std: number) =>
    tf.tidy(() => tf.variable(tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * std), shape), true, prefix + name));
  const fill = (name: string, shape: number[], v: number) => tf.tidy(() => tf.variable(tf.fill(shape, v), true, prefix + name));
  return {
    wte: normal("wte", [c.vocabSize, c.dModel], 0.02),
    wpe: normal("wpe", [c.contextLength, c.dModel], 0.02),
    ...initBody(c, deriveSeed(seed, 2), prefix),
    headW: fill("headW", [c.dModel, c.vocabSize], 0),
    headB: fill("headB", [c.vocabSize], bias),
    ...(cfg.baseHidden ? { baseProj: fill("baseProj", [cfg.baseHidden, c.dModel], 0) } : {}),
  };
};

export const nadoVariables = (p: NadoParams): Record<string, tf.Variable> => ({
  wte: p.wte, wpe: p.wpe, ...bodyVariables(p), headW: p.headW, headB: p.headB, ...(p.baseProj ? { baseProj: p.baseProj } : {}),
});

/**
 * z (B, T, V) for ids (B, T): z[b, t, v] = logit R_φ(ids[b, ≤t] ⊕ v). `baseHidden` (B, T, Cb), the
 * base model's hidden states at the same positions, is required iff the config has baseHidden.
 * Call inside tf.tidy.
 */
export const nadoForward = (p: NadoParams, cfg: NadoConfig, ids: tf.Tensor2D, opts: ForwardOptions & { baseHidden?: tf.Tensor3D } = {}): tf.Tensor3D => {
  if (opts.baseHidden && !p.baseProj)
    throw new Error("nadoForward: base hidden states given to a NADO model configured without baseHidden");
  const c = cfg.body;
  let x = embed(p, c, ids, opts); // (B, T, C)
  if (p.baseProj) {
    if (!opts.baseHidden) throw new Error("nadoForward: this NADO model was configured with baseHidden; pass the base model's hidden states");
    const [B, T, Cb] = opts.baseHidden.shape;
    x = tf.add(x, tf.matMul(opts.baseHidden.reshape([B * T, Cb]), p.baseProj).reshape([B, T, c.dModel])) as tf.Tensor3D;
  }
  const { hidden } = transformerBody(p, c, x, opts);
  const [B, T, C] = hidden.shape;
  return tf.add(tf.matMul(hidden.reshape([B * T, C]), p.headW), p.headB).reshape([B, T, c.vocabSize]) as tf.Tensor3D; // (B, T, V)
};

/**
 * z (B, T, V) for ids whose base-model forward pass `base` (lmForward on the same ids) is at hand: the
 * base's hidden states go in when the NADO reads them (cfg.baseHidden), as a constant (no gradient
 * reaches the base). Every caller that has the base's forward pass computes z through here.
 */
export const nadoOnBase = (p: NadoParams, cfg: NadoConfig, ids: tf.Tensor2D, base: LMOutput, opts: ForwardOptions = {}): tf.Tensor3D =>
  nadoForward(p, cfg, ids, { ...opts, baseHidden: cfg.baseHidden ? stopGradient(base.hidden) : undefined });
