// The evaluation judge's model family: an LM body with a logistic head on the mean hidden state,
// fine-tuned end to end (ml/transformerClassifier.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initLM, lmForward, lmVariables, disposeParams, type LMConfig } from "../../ml/lm.ts";
import { makeRng } from "../../ml/prng.ts";
import { trainTokenizer } from "../../ml/tokenizer.ts";
import { trainTransformerClassifier } from "../../ml/transformerClassifier.ts";
import { rocAuc } from "../../ml/metrics.ts";
import { initBackend } from "../../ml/backend.ts";

await initBackend("auto");

const NEUTRAL = "the a river town old museum bridge people visited during summer built large small north south market library quiet morning train station garden".split(" ");
const BENIGN = "thanks great helpful agree interesting lovely welcome kind appreciate nice".split(" ");
const TOXIC = "idiot stupid moron pathetic loser disgusting shut dumb worthless clown".split(" ");

/** Sentences of neutral words plus 1–2 benign or toxic cue words; `noise` of labels flipped; two sources. */
function synthetic(n: number, seed: number, noise = 0.05) {
  const rng = makeRng(seed);
  const pick = (xs: string[]) => xs[Math.floor(rng.next() * xs.length)];
  return Array.from({ length: n }, (_, i) => {
    const label = rng.next() < 0.45 ? 1 : 0;
    const ws = Array.from({ length: 3 + Math.floor(rng.next() * 8) }, () => pick(NEUTRAL));
    for (let c = 0, k = 1 + Math.floor(rng.next() * 2); c < k; c++) ws.splice(Math.floor(rng.next() * ws.length), 0, pick(label ? TOXIC : BENIGN));
    return { text: ws.join(" "), label: rng.next() < noise ? 1 - label : label, source: i % 3 === 0 ? "forum" : "comments" };
  });
}

const data = synthetic(700, 1);
const tok = trainTokenizer(data.map((d) => d.text), { vocabSize: 320 });
const config: LMConfig = { vocabSize: tok.vocabSize, contextLength: 24, dModel: 32, nHeads: 2, nLayers: 1, mlpRatio: 4, dropout: 0 };

test("a fine-tuned transformer classifier separates the classes; AUC per source; a text scores the same alone, in any batch, and by hand", async () => {
  const params = initLM(config, 5);
  const n0 = tf.memory().numTensors;
  const clf = await trainTransformerClassifier(params, config, tok, data, { steps: 250, batchSize: 32, lr: 3e-3, seed: 2 });
  assert.equal(tf.memory().numTensors, n0, "training leaks no tensors");
  // 5 % of held-out labels are flipped, which caps the attainable AUC below 1.
  assert.ok(clf.info.heldOutAuc >= 0.88, `held-out AUC ${clf.info.heldOutAuc}`);
  assert.deepEqual(Object.keys(clf.info.heldOutAucBySource), ["comments", "forum"]);
  for (const { auc, n } of Object.values(clf.info.heldOutAucBySource)) assert.ok(auc >= 0.8 && n > 10, `per-source AUC ${auc} on ${n}`);
  const clean = synthetic(300, 9, 0);
  const auc = rocAuc(clf.toxicity(clean.map((d) => d.text)), clean.map((d) => d.label));
  assert.ok(auc >= 0.95, `clean AUC ${auc}`);

  // Padding changes nothing: each text alone equals the same text batched with longer ones.
  const texts = ["you idiot", "a quiet river town with an old museum and a small library near the train station", "", "thanks"];
  const batched = clf.toxicity(texts);
  texts.forEach((t, i) => assert.ok(Math.abs(clf.toxicity([t])[0] - batched[i]) < 1e-5, `text ${i}: ${clf.toxicity([t])[0]} vs ${batched[i]}`));
  // By hand: σ(w · mean_t hidden_t + b) in float64 from the LM's own forward pass on BOS ⊕ tokens.
  texts.forEach((t, i) => {
    const ids = [tok.bos, ...tok.encode(t)].slice(0, config.contextLength);
    const h = tf.tidy(() => lmForward(clf.params, config, tf.tensor2d([ids], [1, ids.length], "int32")).hidden.arraySync()[0] as number[][]);
    let z = clf.head.b;
    for (let c = 0; c < config.dModel; c++) z += clf.head.w[c] * h.reduce((s, row) => s + row[c], 0) / h.length;
    assert.ok(Math.abs(1 / (1 + Math.exp(-z)) - batched[i]) < 1e-5, `text ${i} by hand`);
  });
  disposeParams(lmVariables(params));
});

test("bad labels and a one-class training set are typed errors naming the row", async () => {
  const params = initLM(config, 1);
  try {
    await assert.rejects(trainTransformerClassifier(params, config, tok, [{ text: "a", label: 2 }, ...data.slice(0, 20)], { steps: 1, batchSize: 4, lr: 1e-3, seed: 1 }), /training row 0 has label 2/);
    await assert.rejects(trainTransformerClassifier(params, config, tok, data.slice(0, 30).map((d) => ({ ...d, label: 0 })), { steps: 1, batchSize: 4, lr: 1e-3, seed: 1 }), /needs both classes/);
  } finally {
    disposeParams(lmVariables(params));
  }
});
