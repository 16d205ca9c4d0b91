// One iteration's building blocks on the ML core's tiny transformer: sample-and-label, trainNado
// (warm start), the regularised finetuneLM. Small and fast; the numerics are proven on the toys and in
// finetune.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { finetuneLM } from "../../ml/finetune.ts";
import { PRESETS, initLM, lmForward, lmVariables } from "../../ml/lm.ts";
import { initNado, nadoVariables } from "../../ml/nado/model.ts";
import { sampleAndLabel, trainNado } from "../../ml/nado/train.ts";
import { scoreContinuations } from "../../ml/score.ts";

await initBackend("wasm");
const c = PRESETS.tiny;
const EOS = 63, BANNED = 5;
const base = initLM(c, 1);
const prompts = Array.from({ length: 8 }, (_, i) => [62, i + 1]);
const oracle = (items: { continuation: number[] }[]) => items.map((x) => (x.continuation.includes(BANNED) ? 0 : 1));

test("sampleAndLabel: K per prompt, labels from the oracle, log p matches the ML core's scorer, log q is the tempered density", async () => {
  const s = await sampleAndLabel({ base, cfg: c, prompts, K: 3, temperature: 2, maxNewTokens: 6, eos: EOS, seed: 1, oracle });
  assert.equal(s.length, 24);
  const ref = scoreContinuations(base, c, s.map((x) => ({ context: x.prompt, continuation: x.continuation })));
  s.forEach((x, i) => {
    assert.equal(x.label, x.continuation.includes(BANNED) ? 0 : 1);
    assert.ok(Math.abs(x.logp - ref[i].logprob) < 1e-4, `logp ${x.logp} vs scorer ${ref[i].logprob}`);
    assert.ok(x.logq !== x.logp);
  });
  const s1 = await sampleAndLabel({ base, cfg: c, prompts: prompts.slice(0, 2), K: 2, temperature: 1, maxNewTokens: 4, eos: EOS, seed: 1, oracle });
  for (const x of s1) assert.ok(Math.abs(x.logp - x.logq) < 1e-5, "T = 1: q = p");
});

test("trainNado lowers its loss; a warm start copies the previous NADO and leaves it untouched", async () => {
  const samples = await sampleAndLabel({ base, cfg: c, prompts, K: 4, temperature: 1.5, maxNewTokens: 6, eos: EOS, seed: 2, oracle });
  const nadoCfg = { body: c };
  const { nado, history } = await trainNado({ base, baseCfg: c, nadoCfg, samples, steps: 40, batchSize: 16, lr: 1e-2, seed: 3 });
  const first = history.slice(0, 5).reduce((a, h) => a + h.loss, 0) / 5;
  const last = history.slice(-5).reduce((a, h) => a + h.loss, 0) / 5;
  assert.ok(last < first, `loss ${first} -> ${last}`);
  const before = nadoVariables(nado).headW.dataSync().slice();
  const warm = await trainNado({ base, baseCfg: c, nadoCfg, samples, nadoInit: nado, steps: 1, batchSize: 16, lr: 1e-9, seed: 4 });
  assert.deepEqual(Array.from(nadoVariables(nado).headW.dataSync()), Array.from(before));
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(nadoVariables(warm.nado).headW, nado.headW))).dataSync()[0]);
  assert.ok(diff < 1e-6, `warm start differs from its init by ${diff}`);
});

/** The settings the regularised runs here use (steps 15, batch 8, lr 1e-2, warmup 1). */
const settings = { steps: 15, batchSize: 8, lr: 1e-2, warmup: 1, weightDecay: 0.01, clipNorm: 1 };
const guideOf = (snapshot: typeof base, nado: ReturnType<typeof initNado>, nadoCfg: { body: typeof c }) => ({ snapshot, snapshotCfg: c, nado, nadoCfg, alpha: 1 });

test("finetuneLM: λ = 0 ignores snapshot and NADO; λ > 0 moves p_θ towards q (a banned token loses mass)", async () => {
  const data = Array.from({ length: 16 }, (_, i) => ({ ids: [62, ...Array.from({ length: 8 }, (_, t) => (i * 7 + t * 3) % 60)], targetFrom: 1, regularise: i % 2 === 0 }));
  const nadoCfg = { body: c };
  const banning = initNado(nadoCfg, 5, 0);
  banning.headB.assign(tf.tensor1d(Array.from({ length: c.vocabSize }, (_, v) => (v === BANNED ? -1e4 : 0))));
  const other = initNado(nadoCfg, 6, 2);
  const run = async (lambda: number, nado = banning, snapshotSeed = 1) => {
    const model = initLM(c, 1);
    const snapshot = initLM(c, snapshotSeed);
    const history = await finetuneLM({ params: model, config: c, data, pad: 0, ...settings, seed: 7, regulariser: { guide: guideOf(snapshot, nado, nadoCfg), lambda } });
    return { model, history };
  };
  const a = await run(0);
  const b = await run(0, other, 9);
  assert.deepEqual(Array.from(lmVariables(a.model).wte.dataSync()), Array.from(lmVariables(b.model).wte.dataSync()));
  const r = await run(20);
  const pBanned = (m: typeof base) =>
    tf.tidy(() => tf.mean(tf.softmax(lmForward(m, c, tf.tensor2d(data.map((d) => d.ids), undefined, "int32")).logits).slice([0, 0, BANNED], [-1, -1, 1])).dataSync()[0]);
  // measured: λ = 5 -> 0.0139 vs 0.0135 (the KL's gradient on a q = 0 logit is λ·p(v), small when
  // p(v) is already ~1/V, so 15 steps move it little); λ = 20 gives 0.0088 vs 0.0135.
  assert.ok(pBanned(r.model) < 0.8 * pBanned(a.model), `p(banned) plain ${pBanned(a.model)} vs regularised ${pBanned(r.model)}`);
});

test("bad options are ConfigErrors naming the field", async () => {
  const nadoCfg = { body: { ...c, vocabSize: 32 } };
  await assert.rejects(sampleAndLabel({ base, cfg: c, prompts, K: 0, temperature: 1, maxNewTokens: 4, eos: EOS, seed: 1, oracle }),
    (e: { _tag: string; field: string }) => e._tag === "ConfigError" && e.field === "K");
  await assert.rejects(trainNado({ base, baseCfg: c, nadoCfg: { body: c }, samples: [], steps: 1, batchSize: 1, lr: 1e-3, seed: 1 }),
    (e: { _tag: string; field: string }) => e._tag === "ConfigError" && e.field === "samples");
  const one = [{ prompt: [62], continuation: [1], label: 1, logp: 0, logq: 0 }];
  await assert.rejects(trainNado({ base, baseCfg: c, nadoCfg, samples: one, steps: 1, batchSize: 1, lr: 1e-3, seed: 1 }),
    (e: { _tag: string; message: string }) => e._tag === "ConfigError" && /vocabulary \(32\).*\(64\)/.test(e.message));
  const oneEx = [{ ids: [1, 2], targetFrom: 1, regularise: true }];
  const guide = guideOf(base, initNado({ body: c }, 1, 0), { body: c });
  await assert.rejects(
    finetuneLM({ params: base, config: c, data: oneEx, pad: 0, ...settings, steps: 1, seed: 1, regulariser: { guide, lambda: -1 } }),
    (e: { _tag: string; field: string }) => e._tag === "ConfigError" && e.field === "lambda");
  await assert.rejects(
    finetuneLM({ params: base, config: c, data: [], pad: 0, ...settings, steps: 1, seed: 1 }),
    (e: { _tag: string; field: string }) => e._tag === "ConfigError" && e.field === "data");
  await assert.rejects(
    finetuneLM({ params: base, config: c, data: oneEx, pad: 0, ...settings, steps: 1, seed: 1, regulariser: { guide: { ...guide, nadoCfg }, lambda: 1 } }),
    (e: { _tag: string; field: string; message: string }) => e._tag === "ConfigError" && e.field === "regulariser.guide" && /NADO \(32\).*model's \(64\)/.test(e.message));
});

test("no tensors leak: trainNado keeps only the returned NADO's variables; finetuneLM and guided generation keep none", async () => {
  const samples = await sampleAndLabel({ base, cfg: c, prompts: prompts.slice(0, 2), K: 2, temperature: 1, maxNewTokens: 4, eos: EOS, seed: 5, oracle });
  const nadoCfg = { body: c };
  const before = tf.memory().numTensors;
  const { nado } = await trainNado({ base, baseCfg: c, nadoCfg, samples, steps: 2, batchSize: 4, lr: 1e-3, seed: 1 });
  assert.equal(tf.memory().numTensors - before, Object.keys(nadoVariables(nado)).length);
  const model = initLM(c, 2);
  const mid = tf.memory().numTensors;
  await finetuneLM({ params: model, config: c, data: [{ ids: [62, 1, 2, 3], targetFrom: 1, regularise: true }], pad: 0, ...settings, steps: 2, batchSize: 2, lr: 1e-3, seed: 1, regulariser: { guide: guideOf(base, nado, nadoCfg), lambda: 1 } });
  const { nadoLogitsProcessor } = await import("../../ml/nado/guided.ts");
  const { generateIds } = await import("../../ml/generate.ts");
  generateIds(base, c, [[1], [2, 3]], { maxNewTokens: 3, seed: 1, logitsProcessor: nadoLogitsProcessor(nado, nadoCfg, 1, { params: base, config: c }) });
  assert.equal(tf.memory().numTensors, mid);
});

test("sampleAndLabel keeps a long prompt's last contextLength − maxNewTokens tokens, so samples fit the context", async () => {
  const long = [62, ...Array.from({ length: c.contextLength + 5 }, (_, i) => 1 + (i % 40))];
  const maxNewTokens = 6;
  const s = await sampleAndLabel({ base, cfg: c, prompts: [long], K: 2, temperature: 1, maxNewTokens, eos: EOS, padId: 0, seed: 3, oracle });
  assert.equal(s.length, 2);
  for (const x of s) {
    assert.deepEqual(x.prompt, long.slice(-(c.contextLength - maxNewTokens)));
    assert.ok(x.prompt.length + x.continuation.length <= c.contextLength);
    assert.ok(Number.isFinite(x.logp) && Number.isFinite(x.logq));
  }
  await assert.rejects(() => sampleAndLabel({ base, cfg: c, prompts: [long], K: 1, temperature: 1, maxNewTokens: c.contextLength, eos: EOS, padId: 0, seed: 3, oracle }),
    (e: any) => e._tag === "ConfigError" && /maxNewTokens must be an integer in \[1, contextLength/.test(e.message));
});
