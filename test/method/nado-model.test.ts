// The transformer NADO model and guided decoding on the ML core's tiny LM.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { generateIds } from "../../ml/generate.ts";
import { PRESETS, initLM, lmForward } from "../../ml/lm.ts";
import { nadoLogitsProcessor } from "../../ml/nado/guided.ts";
import { initNado, nadoForward } from "../../ml/nado/model.ts";

await initBackend("wasm");
const c = PRESETS.tiny;
const base = initLM(c, 1);

test("NADO at init: z = logit(mean label) everywhere, so the guided distribution equals p (within 1e-6)", () => {
  const nado = initNado({ body: c }, 2, Math.log(0.3 / 0.7));
  const ids = tf.tensor2d([[1, 5, 9, 3], [2, 2, 7, 60]], [2, 4], "int32");
  const z = tf.tidy(() => nadoForward(nado, { body: c }, ids).dataSync());
  for (const v of z) assert.ok(Math.abs(v - Math.log(0.3 / 0.7)) < 1e-6);
  const seqs = [[1, 5, 9, 3], [2, 2, 7, 60]];
  const [got, want] = tf.tidy(() => {
    const logits = lmForward(base, c, ids).logits.slice([0, 3, 0], [2, 1, -1]).reshape([2, -1]) as tf.Tensor2D;
    return [nadoLogitsProcessor(nado, { body: c }, 1, { params: base, config: c })(seqs, logits).dataSync(), tf.logSoftmax(logits).dataSync()];
  });
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-6);
  ids.dispose();
});

test("guided decoding never emits a token the NADO marks R = 0 (head bias −1e4), through generateIds' hook", () => {
  const nado = initNado({ body: c }, 3, 0);
  const banned = 5;
  nado.headB.assign(tf.tensor1d(Array.from({ length: c.vocabSize }, (_, v) => (v === banned ? -1e4 : 0))));
  const prompts = Array.from({ length: 8 }, (_, i) => [i + 1]);
  const out = generateIds(base, c, prompts, { maxNewTokens: 10, seed: 4, temperature: 1.5, logitsProcessor: nadoLogitsProcessor(nado, { body: c }, 1, { params: base, config: c }) });
  assert.ok(out.every((r) => r.length === 10 && !r.includes(banned)));
  const plain = generateIds(base, c, Array.from({ length: 64 }, (_, i) => [i % 60 + 1]), { maxNewTokens: 10, seed: 4, temperature: 1.5 });
  assert.ok(plain.some((r) => r.includes(banned)), "the unguided model does emit the token (so the check can fail)");
});

test("NADO fed base hidden states: zero-initialised projection leaves z unchanged; a missing input is an error", () => {
  const cfg = { body: c, baseHidden: c.dModel };
  const nado = initNado(cfg, 5, 0);
  const ids = tf.tensor2d([[1, 2, 3]], [1, 3], "int32");
  tf.tidy(() => {
    const h = lmForward(base, c, ids).hidden;
    const z = nadoForward(nado, cfg, ids, { baseHidden: h }).dataSync();
    assert.ok(Array.from(z).every((v) => Math.abs(v) < 1e-7));
    assert.throws(() => nadoForward(nado, cfg, ids), /baseHidden/);
  });
  ids.dispose();
});

test("nadoLanguageModel: at init it scores like the plain LM (a long context cut from the left alike); with a non-constant NADO it scores log q (float64 check)", async () => {
  const { trainTokenizer } = await import("../../ml/tokenizer.ts");
  const { plainLanguageModel } = await import("../../ml/languageModel.ts");
  const { nadoLanguageModel } = await import("../../ml/nado/guided.ts");
  const tok = trainTokenizer(["the cat sat on the mat"], { vocabSize: 262 });
  const cfg = { ...c, vocabSize: tok.vocabSize, contextLength: 32 };
  const p = initLM(cfg, 8);
  const [greedy] = await plainLanguageModel(p, cfg, tok).generate(["the"], { maxNewTokens: 2, temperature: 0 });
  const reqs = [{ context: "the cat", continuation: " sat on" }, { context: "a", continuation: " mat" }, { context: "the cat sat on the mat ".repeat(8), continuation: "the cat" }, { context: "the", continuation: greedy }];
  assert.ok(tok.encode(reqs[2].context).length > cfg.contextLength, "the third context does not fit");
  const plain = await plainLanguageModel(p, cfg, tok).logLikelihood(reqs);
  const nado = initNado({ body: cfg }, 9, 0.4);
  const guided = await nadoLanguageModel(p, cfg, nado, { body: cfg }, tok, { batchSize: 2 }).logLikelihood(reqs);
  guided.forEach((g, i) => {
    assert.ok(Math.abs(g.logprob - plain[i].logprob) < 1e-4, `${g.logprob} vs ${plain[i].logprob}`);
    assert.equal(g.tokens, plain[i].tokens);
    assert.equal(g.greedyMatch, plain[i].greedyMatch);
  });
  assert.ok(guided.some((g) => g.greedyMatch) && guided.some((g) => !g.greedyMatch), "greedyMatch takes both values here");
  // The perplexity scorer under q: at init, the plain scorer's windows and log-probs.
  const { lmTokenScorer } = await import("../../ml/eval/perplexity.ts");
  const { nadoTokenScorer } = await import("../../ml/nado/guided.ts");
  const [qs, ps] = [nadoTokenScorer(p, cfg, nado, { body: cfg }, tok), lmTokenScorer(p, cfg, tok)];
  assert.deepEqual([qs.windowLength, qs.bos], [ps.windowLength, ps.bos]);
  const windows = [[tok.bos, ...tok.encode("the cat sat on the mat ".repeat(8))].slice(0, cfg.contextLength + 1), [tok.bos, ...tok.encode("a mat")]];
  const [lq, lp0] = [await qs.tokenLogProbs(windows), await ps.tokenLogProbs(windows)];
  lq.forEach((row, i) => {
    assert.equal(row.length, windows[i].length - 1);
    row.forEach((x, t) => assert.ok(Math.abs(x - lp0[i][t]) < 1e-4, `window ${i} t ${t}: ${x} vs ${lp0[i][t]}`));
  });
  // A head bias that varies with v: log q(x_t|h) = log p(x_t|h) + log σ(b[x_t]) − log Σ_v p(v|h) σ(b[v]).
  const b = Array.from({ length: cfg.vocabSize }, (_, v) => Math.sin(v));
  nado.headB.assign(tf.tensor1d(b));
  const [g] = await nadoLanguageModel(p, cfg, nado, { body: cfg }, tok).logLikelihood([reqs[0]]);
  const ids = [...tok.encode(reqs[0].context, { bos: true }), ...tok.encode(reqs[0].continuation)];
  const nCont = tok.encode(reqs[0].continuation).length;
  const lp = tf.tidy(() => tf.logSoftmax(lmForward(p, cfg, tf.tensor2d([ids.slice(0, -1)], undefined, "int32")).logits).arraySync() as number[][][])[0];
  const ls = (z: number) => -Math.log1p(Math.exp(-z));
  let ref = 0;
  for (let t = ids.length - 1 - nCont; t < ids.length - 1; t++) {
    const norm = Math.log(lp[t].reduce((s, l, v) => s + Math.exp(l + ls(b[v])), 0));
    ref += lp[t][ids[t + 1]] + ls(b[ids[t + 1]]) - norm;
  }
  assert.ok(Math.abs(g.logprob - ref) < 1e-4, `${g.logprob} vs ${ref}`);
});

test("NADO checkpoints round-trip exactly; an LM checkpoint or parameters that do not fit the config are CheckpointErrors", async () => {
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { saveLM } = await import("../../ml/checkpoint.ts");
  const { loadNadoCheckpoint, saveNadoCheckpoint } = await import("../../ml/nado/checkpoint.ts");
  const { disposeParams } = await import("../../ml/lm.ts");
  const { nadoVariables } = await import("../../ml/nado/model.ts");
  const dir = mkdtempSync(join(tmpdir(), "acft-nado-ckpt-"));
  try {
    const cfg = { body: c };
    const nado = initNado(cfg, 11, 0.3);
    nado.headB.assign(tf.tensor1d(Array.from({ length: c.vocabSize }, (_, v) => Math.cos(v))));
    await saveNadoCheckpoint(join(dir, "nado"), { params: nado, cfg }, { note: "x" });
    const back = await loadNadoCheckpoint(join(dir, "nado"));
    assert.deepEqual(back.cfg, cfg);
    for (const [k, v] of Object.entries(nadoVariables(nado))) assert.deepEqual(Array.from(nadoVariables(back.params)[k].dataSync()), Array.from(v.dataSync()), k);
    disposeParams(nadoVariables(back.params));
    await saveLM(join(dir, "lm"), base, c);
    await assert.rejects(loadNadoCheckpoint(join(dir, "lm")), (e: { _tag: string; message: string }) => e._tag === "CheckpointError" && /is not a NADO checkpoint/.test(e.message));
    // A header whose config no longer fits the stored tensors (one more layer than saved).
    const header = join(dir, "nado", "checkpoint.json");
    const h = JSON.parse(readFileSync(header, "utf8"));
    h.config.body.nLayers += 1;
    writeFileSync(header, JSON.stringify(h));
    const before = tf.memory().numTensors;
    await assert.rejects(loadNadoCheckpoint(join(dir, "nado")), (e: { _tag: string; path: string; message: string }) =>
      e._tag === "CheckpointError" && e.path.endsWith("tensors.bin") && /do not fit its config: no value for parameter "h2\./.test(e.message));
    assert.equal(tf.memory().numTensors, before, "nothing leaked on the error path");
    disposeParams(nadoVariables(nado));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a NADO reading the base's hidden states: training moves its projection; decoding and scoring agree on log q", async () => {
  const { trainNado } = await import("../../ml/nado/train.ts");
  const { nadoVariables, nadoOnBase } = await import("../../ml/nado/model.ts");
  const { guidedTokenLogProbs } = await import("../../ml/nado/score.ts");
  const { guidedLogProbs } = await import("../../ml/nado/losses.ts");
  const cfg = { body: { ...c, nLayers: 1 }, baseHidden: c.dModel };
  const samples = Array.from({ length: 16 }, (_, i) => ({ prompt: [1, 2 + (i % 4)], continuation: [3 + (i % 5), 7, 9], label: i % 2, logp: -3, logq: -3 }));
  const { nado, history } = await trainNado({ base, baseCfg: c, nadoCfg: cfg, samples, steps: 30, batchSize: 8, lr: 1e-2, seed: 3 });
  assert.ok(nado.baseProj && Math.max(...Array.from(nado.baseProj.dataSync()).map(Math.abs)) > 1e-3, "the base-hidden projection trained");
  assert.ok(history.at(-1)!.loss < history[0].loss, `loss ${history[0].loss} → ${history.at(-1)!.loss}`);
  const seq = [1, 3, 4, 7, 9];
  const ids = tf.tensor2d([seq.slice(0, -1)], [1, 4], "int32");
  // the scorer's log q of the last token
  const scored = guidedTokenLogProbs({ params: base, config: c }, nado, cfg, 1, [seq])[0].lp.at(-1)!;
  const [byHand, byProcessor] = tf.tidy(() => {
    const out = lmForward(base, c, ids);
    const lq = guidedLogProbs(out.logits, nadoForward(nado, cfg, ids, { baseHidden: out.hidden }), 1) as tf.Tensor3D;
    const lastLogits = out.logits.slice([0, 3, 0], [1, 1, -1]).reshape([1, -1]) as tf.Tensor2D;
    const viaHook = nadoLogitsProcessor(nado, cfg, 1, { params: base, config: c })([seq.slice(0, -1)], lastLogits);
    const viaOnBase = guidedLogProbs(out.logits, nadoOnBase(nado, cfg, ids, out), 1) as tf.Tensor3D;
    assert.deepEqual(viaOnBase.dataSync(), lq.dataSync(), "nadoOnBase passes the base's hidden states");
    return [lq.slice([0, 3, seq[4]], [1, 1, 1]).dataSync()[0], viaHook.dataSync()[seq[4]]];
  });
  assert.ok(Math.abs(byHand - scored) < 1e-5 && Math.abs(byHand - byProcessor) < 1e-5, `${byHand} ${scored} ${byProcessor}`);
  assert.ok(Math.abs(byHand - tf.tidy(() => tf.logSoftmax(lmForward(base, c, ids).logits).slice([0, 3, seq[4]], [1, 1, 1]).dataSync()[0])) > 1e-3, "q differs from p (the check can fail)");
  ids.dispose();
  for (const v of Object.values(nadoVariables(nado))) v.dispose();
});
