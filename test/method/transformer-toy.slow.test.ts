// Opt-in (ACFT_SLOW=1): the transformer NADO (ml/nado/model.ts) trained with nadoLoss on samples of
// an exact toy recovers the DP's R — the same check as toy.test.ts, with the real model class.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { makeRng } from "../../ml/prng.ts";
import { train } from "../../ml/train.ts";
import { nadoLoss } from "../../ml/nado/losses.ts";
import { initNado, nadoForward, nadoVariables } from "../../ml/nado/model.ts";
import { chainToTable, prefixIndex, randomChain, sampleTable } from "../../ml/toy/chain.ts";
import { exactNextR, neverToken, oracle } from "../../ml/toy/exact.ts";
import { nadoMAE } from "../../ml/toy/method.ts";

await initBackend("wasm");

test("transformer NADO on a V=5, L=5 toy: MAE to exact R < 0.05", async () => {
  const V = 5, L = 5, BOS = V; // NADO vocabulary V + 1 (BOS); only the first V logits are read
  const base = chainToTable(randomChain(V, L, makeRng(1)));
  const c = neverToken(0);
  const R = exactNextR(base, c);
  const cfg = { body: { vocabSize: V + 1, contextLength: L, dModel: 32, nHeads: 2, nLayers: 2, mlpRatio: 4, dropout: 0 } };
  const n = 20_000;
  const s = sampleTable(base, n, makeRng(2));
  const labels = Float32Array.from({ length: n }, (_, i) => oracle(c, s.tokens, i * L, L));
  const mean = labels.reduce((a, b) => a + b, 0) / n;
  const nado = initNado(cfg, 3, Math.log(mean / (1 - mean)));
  // Inputs BOS x_1..x_{L-1}; position t reads h_t = x_1..x_t; log p rows from the table (−30 for BOS).
  const batchOf = (step: number) => {
    const rng = makeRng(1000 + step);
    const idx = Array.from({ length: 256 }, () => Math.floor(rng.next() * n));
    const ids = idx.map((i) => [BOS, ...Array.from(s.tokens.subarray(i * L, i * L + L - 1))]);
    const tg = idx.map((i) => Array.from(s.tokens.subarray(i * L, (i + 1) * L)));
    const lp = idx.flatMap((i) => Array.from({ length: L }, (_, t) => {
      const h = prefixIndex(base.space, s.tokens, t, i * L);
      return [...Array.from({ length: V }, (_, v) => Math.log(base.probs[h * V + v])), -30];
    }));
    return { ids, tg, lp, lab: idx.map((i) => labels[i]) };
  };
  await train({
    variables: nadoVariables(nado),
    batches: (step) => batchOf(step),
    loss: (b) => nadoLoss({
      z: nadoForward(nado, cfg, tf.tensor2d(b.ids, undefined, "int32")),
      logp: tf.tensor3d(b.lp.flat(), [b.ids.length, L, V + 1]),
      targets: tf.tensor2d(b.tg, undefined, "int32"), mask: tf.ones([b.ids.length, L]) as tf.Tensor2D, labels: tf.tensor1d(b.lab),
    }).loss,
    steps: 400, optimizer: { lr: 3e-3, weightDecay: 0 }, schedule: { warmup: 20, decay: "cosine" }, clipNorm: 1,
  });
  // R_φ(h ⊕ v) for every prefix h: run the NADO on every prefix (padded; read position |h|).
  const { nPrefixes } = base.space;
  const rows: number[][] = [];
  const pos: number[] = [];
  for (let d = 0; d < L; d++)
    for (let code = 0; code < V ** d; code++) {
      const h: number[] = [];
      for (let k = d - 1, x = code; k >= 0; k--, x = Math.floor(x / V)) h[k] = x % V;
      rows.push([BOS, ...h, ...new Array(L - 1 - d).fill(0)]);
      pos.push(d);
    }
  const z = tf.tidy(() => nadoForward(nado, cfg, tf.tensor2d(rows, undefined, "int32")).arraySync() as number[][][]);
  const rPhi = new Float64Array(nPrefixes * V);
  rows.forEach((_, r) => { for (let v = 0; v < V; v++) rPhi[r * V + v] = 1 / (1 + Math.exp(-z[r][pos[r]][v])); });
  const mae = nadoMAE(base, rPhi, R);
  // measured: 0.0133 (20k samples, 400 steps of 256, d32 × 2 layers; ~80 s on wasm under load).
  assert.ok(mae < 0.05, `transformer NADO MAE ${mae}`);
});
