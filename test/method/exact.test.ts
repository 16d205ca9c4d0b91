// The float64 toy machinery against brute-force enumeration (no tfjs): these answers are what the
// tfjs NADO / KL / sampling code is later measured against, so they are proven first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeRng } from "../../ml/prng.ts";
import { type PrefixTable, chainToTable, decodeSequence, jointOf, prefixIndex, prefixMarginals, prefixSpace, randomChain } from "../../ml/toy/chain.ts";
import { constrainedJoint, evenCount, exactNextR, guidedTable, klEnumerated, klPerPrefix, neverToken, oracleTable, prefixR } from "../../ml/toy/exact.ts";

/** A general (non-Markov) random prefix table: every prefix has its own next-token distribution. */
const randomTable = (V: number, L: number, seed: number): PrefixTable => {
  const sp = prefixSpace(V, L);
  const rng = makeRng(seed);
  const probs = new Float64Array(sp.nPrefixes * V);
  for (let h = 0; h < sp.nPrefixes; h++) {
    let s = 0;
    for (let v = 0; v < V; v++) s += probs[h * V + v] = 0.05 + rng.next();
    for (let v = 0; v < V; v++) probs[h * V + v] /= s;
  }
  return { space: sp, probs };
};

const models = [
  ["random prefix table V4 L4", randomTable(4, 4, 3)],
  ["Markov chain V5 L5", chainToTable(randomChain(5, 5, makeRng(2)))],
] as const;

for (const [name, m] of models)
  for (const c of [neverToken(0), evenCount(1)]) {
    test(`exact R (${name}, ${c.name}) = brute-force Pr[C | prefix] and obeys the consistency identity to 1e-12`, () => {
      const { V, L, offsets, nSequences } = m.space;
      const nextR = exactNextR(m, c);
      const R = prefixR(m, nextR);
      const joint = jointOf(m);
      const C = oracleTable(m.space, c);
      // Brute force: for every prefix h, Pr[C | h] = Σ_{x ⊒ h} p(x) C(x) / Σ_{x ⊒ h} p(x).
      const num = new Float64Array(m.space.nPrefixes);
      const den = new Float64Array(m.space.nPrefixes);
      const x = new Int32Array(L);
      for (let n = 0; n < nSequences; n++) {
        decodeSequence(m.space, n, x);
        for (let d = 0; d < L; d++) {
          const h = prefixIndex(m.space, x, d);
          num[h] += joint[n] * C[n];
          den[h] += joint[n];
        }
      }
      let maxErr = 0;
      for (let h = 0; h < m.space.nPrefixes; h++) maxErr = Math.max(maxErr, Math.abs(R[h] - num[h] / den[h]));
      assert.ok(maxErr < 1e-12, `max |R_DP − R_brute| = ${maxErr}`);
      // Consistency: R(h ⊕ u) as stored in the parent's row equals Σ_v p(v|h⊕u) R(h⊕u⊕v).
      for (let d = 0; d + 1 < L; d++)
        for (let code = 0; code < V ** d; code++)
          for (let u = 0; u < V; u++) {
            const child = offsets[d + 1] + code * V + u;
            assert.ok(Math.abs(nextR[(offsets[d] + code) * V + u] - R[child]) < 1e-12);
          }
    });

    test(`q*(v|h) = p(v|h)R(h⊕v)/R(h) factorises p·C/Z exactly (${name}, ${c.name})`, () => {
      const viaTokens = jointOf(guidedTable(m, exactNextR(m, c)));
      const direct = constrainedJoint(m, c);
      let maxErr = 0;
      for (let i = 0; i < direct.length; i++) maxErr = Math.max(maxErr, Math.abs(viaTokens[i] - direct[i]));
      assert.ok(maxErr < 1e-12, `max |Π_t q*(x_t|h_t) − p(x)C(x)/Z| = ${maxErr}`);
    });

    test(`chain rule: Σ_h q*(h) KL(q*(·|h) ‖ p(·|h)) = brute-force KL(q* ‖ p) over sequences to 1e-12 (${name}, ${c.name})`, () => {
      const q = guidedTable(m, exactNextR(m, c));
      const perPrefix = klPerPrefix(q, m);
      const w = prefixMarginals(q);
      let closed = 0;
      for (let h = 0; h < perPrefix.length; h++) closed += w[h] * perPrefix[h];
      const brute = klEnumerated(jointOf(q), jointOf(m));
      // KL(p·C/Z ‖ p) = −log Z for a hard constraint: a third, independent value.
      const C = oracleTable(m.space, c);
      const Z = jointOf(m).reduce((s, p, i) => s + p * C[i], 0);
      assert.ok(Math.abs(closed - brute) < 1e-12, `closed ${closed} vs brute ${brute}`);
      assert.ok(Math.abs(brute + Math.log(Z)) < 1e-12, `brute ${brute} vs −log Z ${-Math.log(Z)}`);
    });
  }
