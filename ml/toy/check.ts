// runMethodCheck: the whole method on an exact toy in a few seconds, reporting how close each
// piece is to its exact answer. The `toy` pipeline exposes the result as the table `method_check`.
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.ts";
import { klToTarget } from "../finetune.ts";
import { guidedLogProbs } from "../nado/losses.ts";
import { type Rng, makeRng } from "../prng.ts";
import { type PrefixTable, chainToTable, empiricalJoint, jointOf, prefixMarginals, randomChain, sampleTable, totalVariation } from "./chain.ts";
import { type ToyConstraint, constrainedJoint, evenCount, exactNextR, guidedTable, klEnumerated, neverToken, satisfaction } from "./exact.ts";
import { consistencyError, finetuneToy, nadoMAE, sampleAndLabelToy, toyTargets, trainToyNado } from "./method.ts";
import { type ToyLM, type ToyNado, disposeToyNado, toyLMChain, toyLMFromChain, toyLMTable, toyNadoNextR } from "./models.ts";

export interface MethodCheckOptions {
  /** Vocabulary size and sequence length of the toy (V^L sequences are enumerated). */
  V: number;
  L: number;
  /** "never" (token 0 never appears) or "even" (token 1 appears an even number of times). */
  constraint: "never" | "even";
  seed: number;
  /** NADO: samples from the base, their temperature, steps, learning rate, consistency weight β. */
  nadoSamples: number;
  temperature: number;
  nadoSteps: number;
  nadoLr: number;
  beta: number;
  /** Samples drawn from the guided distribution for q_tv. */
  qSamples: number;
  /** Fine-tuning: training sequences (from a different "data" chain), steps, lr, λ. */
  ftSamples: number;
  ftSteps: number;
  ftLr: number;
  lambda: number;
  /** Sequential iterations (docs/method.md §4): sample θ_{i−1}, train φ_i (warm start), fine-tune θ_i. */
  iterations: number;
}

export const METHOD_CHECK_DEFAULTS: MethodCheckOptions = {
  V: 5, L: 5, constraint: "never", seed: 1,
  nadoSamples: 50_000, temperature: 1, nadoSteps: 150, nadoLr: 0.1, beta: 0.5,
  qSamples: 50_000,
  ftSamples: 2_000, ftSteps: 150, ftLr: 0.1, lambda: 4, iterations: 1,
};

/** Reject options the enumeration cannot handle, naming the field (the stage's schema does the same). */
export const validateMethodCheck = (o: MethodCheckOptions): void => {
  const fail = (field: string, message: string) => { throw new ConfigError({ field, message: `runMethodCheck: ${message}` }); };
  if (!(Number.isInteger(o.V) && o.V >= 2 && Number.isInteger(o.L) && o.L >= 2)) fail("V", `V and L must be integers >= 2, got V=${o.V} L=${o.L}`);
  if (o.V ** o.L > 300_000) fail("L", `V^L = ${o.V ** o.L} sequences is too many to enumerate exactly; keep V^L <= 300000 (e.g. V=5, L=5)`);
  if (o.constraint !== "never" && o.constraint !== "even") fail("constraint", `constraint must be "never" or "even", got ${JSON.stringify(o.constraint)}`);
  for (const k of ["nadoSamples", "nadoSteps", "qSamples", "ftSamples", "ftSteps", "iterations"] as const)
    if (!(Number.isInteger(o[k]) && o[k] >= 1)) fail(k, `${k} must be an integer >= 1, got ${o[k]}`);
  for (const k of ["temperature", "nadoLr", "ftLr"] as const) if (!(o[k] > 0)) fail(k, `${k} must be > 0, got ${o[k]}`);
  for (const k of ["beta", "lambda"] as const) if (!(o[k] >= 0)) fail(k, `${k} must be >= 0, got ${o[k]}`);
};

export interface MethodCheck {
  nado_mae: number;
  consistency_err: number;
  q_tv: number;
  kl_abs_err: number;
  sat_plain: number;
  sat_regularised: number;
  lm_loss_plain: number;
  lm_loss_regularised: number;
}

export const toyConstraint = (name: "never" | "even"): ToyConstraint => (name === "never" ? neverToken(0) : evenCount(1));

/** The guided table q(v|h) ∝ p(v|h) R_φ(h⊕v)^α over every prefix, computed by the tfjs code path. */
export const guidedTableTf = (base: PrefixTable, nado: ToyNado, alpha = 1): PrefixTable => {
  const { nPrefixes, V } = base.space;
  const logq = tf.tidy(() => {
    const logp = tf.tensor2d(Float32Array.from(base.probs, Math.log), [nPrefixes, V]);
    return tf.exp(guidedLogProbs(logp, tf.add(nado.table, nado.bias), alpha));
  });
  const probs = Float64Array.from(logq.dataSync());
  logq.dispose();
  return { space: base.space, probs };
};

/**
 * |closed-form KL − brute force| on the toy: Σ_h q*(h) KL_tf(q*(·|h) ‖ p(·|h)) with the per-prefix
 * KL from the tfjs `klToTarget` (float32), summed in float64, against Σ_x q*(x) log(q*(x)/p(x)).
 */
export const klCheck = (p: PrefixTable, qStar: PrefixTable): number => {
  const { nPrefixes, V } = p.space;
  const kl = tf.tidy(() =>
    klToTarget(tf.tensor2d(Float32Array.from(qStar.probs, Math.log), [nPrefixes, V]), tf.tensor2d(Float32Array.from(p.probs, Math.log), [nPrefixes, V])),
  );
  const perPrefix = kl.dataSync();
  kl.dispose();
  const weights = prefixMarginals(qStar);
  let closed = 0;
  for (let h = 0; h < nPrefixes; h++) closed += weights[h] * perPrefix[h];
  return Math.abs(closed - klEnumerated(jointOf(qStar), jointOf(p)));
};

/** Exact per-token cross-entropy of `model` on the data distribution: E_{x~data}[−log p(x)] / L. */
export const exactTokenCE = (data: PrefixTable, model: PrefixTable): number => {
  const pd = jointOf(data);
  const pm = jointOf(model);
  let s = 0;
  for (let i = 0; i < pd.length; i++) if (pd[i] > 0) s -= pd[i] * Math.log(pm[i]);
  return s / data.space.L;
};

/** Phases of runMethodCheck, for progress reporting. */
export type MethodCheckPhase = "nado" | "sampling" | "finetune-plain" | "finetune-regularised";

/**
 * Run the method on a seeded toy and measure each piece against its exact answer:
 *   nado_mae, consistency_err — a NADO trained on base samples vs the DP's R (nadoMAE, consistencyError)
 *   q_tv            — TV(empirical distribution of qSamples drawn from the guided q, exact q* = p·C/Z)
 *   kl_abs_err      — |chain-rule sum of the tfjs closed-form KL − brute-force sequence KL(q*‖p)|
 *   sat_*           — exact Pr[C] of the model fine-tuned plainly (λ = 0) / with the regulariser
 *   lm_loss_*       — its exact per-token cross-entropy on the data distribution (nats)
 * The fine-tuning data comes from a second random chain (the "domain"), which uses the banned
 * token freely; the regulariser's q uses the base model as snapshot and the trained NADO.
 */
export const runMethodCheck = async (
  opts: Partial<MethodCheckOptions> = {},
  onProgress?: (phase: MethodCheckPhase, done: number, total: number) => void,
): Promise<MethodCheck> => {
  const o = { ...METHOD_CHECK_DEFAULTS, ...opts };
  validateMethodCheck(o);
  const before = tf.memory().numTensors;
  const rng = makeRng(o.seed);
  const c = toyConstraint(o.constraint);
  const baseChain = randomChain(o.V, o.L, rng);
  const base = chainToTable(baseChain);
  const nextR = exactNextR(base, c);
  const samples = sampleAndLabelToy(base, c, o.nadoSamples, rng, o.temperature);
  const nado = await trainToyNado(base, samples, {
    steps: o.nadoSteps, lr: o.nadoLr, beta: o.beta, onProgress: (p) => onProgress?.("nado", p.done, p.steps),
  });
  const rPhi = toyNadoNextR(nado);
  const guided = guidedTableTf(base, nado);
  const drawn = sampleTable(guided, o.qSamples, rng).tokens;
  onProgress?.("sampling", 1, 1);
  const dataTable = chainToTable(randomChain(o.V, o.L, rng));
  const ftData = sampleTable(dataTable, o.ftSamples, rng).tokens;
  const plain = toyLMFromChain(baseChain);
  const regularised = toyLMFromChain(baseChain);
  try {
    const ft = { steps: o.ftSteps, lr: o.ftLr };
    await finetuneToy(plain, ftData, { ...ft, lambda: 0, onProgress: (p) => onProgress?.("finetune-plain", p.done, p.steps) });
    await regularisedIterations(regularised, nado, ftData, c, o, rng, onProgress);
    const plainT = toyLMTable(plain);
    const regT = toyLMTable(regularised);
    return {
      nado_mae: nadoMAE(base, rPhi, nextR),
      consistency_err: consistencyError(base, rPhi),
      q_tv: totalVariation(empiricalJoint(base.space, drawn), constrainedJoint(base, c)),
      kl_abs_err: klCheck(base, guidedTable(base, nextR)),
      sat_plain: satisfaction(plainT, c),
      sat_regularised: satisfaction(regT, c),
      lm_loss_plain: exactTokenCE(dataTable, plainT),
      lm_loss_regularised: exactTokenCE(dataTable, regT),
    };
  } finally {
    disposeToyNado(nado);
    tf.dispose([plain.logits, regularised.logits]);
    if (tf.memory().numTensors !== before) console.warn(`runMethodCheck: ${tf.memory().numTensors - before} tensors leaked`);
  }
};

/**
 * Sequential iterations on the toy (docs/method.md §4). Iteration 1 uses φ_1 (trained on the base);
 * iteration i > 1 samples θ_{i−1} exactly, trains φ_i warm-started from φ_{i−1}, then fine-tunes
 * θ_i from θ_{i−1} with q built from the frozen (θ_{i−1}, φ_i). Mutates `lm`; does not dispose φ_1.
 */
const regularisedIterations = async (
  lm: ToyLM, phi1: ToyNado, ftData: Int32Array, c: ToyConstraint, o: MethodCheckOptions, rng: Rng,
  onProgress?: (phase: MethodCheckPhase, done: number, total: number) => void,
): Promise<void> => {
  let phi = phi1;
  try {
    for (let i = 1; i <= o.iterations; i++) {
      if (i > 1) {
        const current = toyLMTable(lm);
        const s = sampleAndLabelToy(current, c, o.nadoSamples, rng, o.temperature);
        const next = await trainToyNado(current, s, { steps: o.nadoSteps, lr: o.nadoLr, beta: o.beta, init: phi });
        if (phi !== phi1) disposeToyNado(phi);
        phi = next;
      }
      const snapshot = toyLMFromChain(toyLMChain(lm));
      const qLogProbs = toyTargets(snapshot, phi, ftData);
      try {
        await finetuneToy(lm, ftData, {
          steps: o.ftSteps, lr: o.ftLr, lambda: o.lambda, qLogProbs,
          onProgress: (p) => onProgress?.("finetune-regularised", (i - 1) * p.steps + p.done, o.iterations * p.steps),
        });
      } finally {
        tf.dispose([snapshot.logits, qLogProbs]);
      }
    }
  } finally {
    if (phi !== phi1) disposeToyNado(phi);
  }
};
