// The toxicity oracle: learns a synthetic toxic/benign set to a stated held-out AUC, is robust on
// short snippets, its fast TS inference equals the tfjs training graph, and it saves/loads exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassifierError, ToxicityClassifier, constraintFromToxicity, trainToxicityClassifier } from "../../ml/classify.ts";
import { featureStrings, featurize, fnv1a, forEachFeatureHash, words } from "../../ml/textFeatures.ts";
import { rocAuc } from "../../ml/metrics.ts";
import { makeRng } from "../../ml/prng.ts";

await tf.setBackend("cpu");

const NEUTRAL = "the a river town old museum bridge people visited during summer built large small north south market library quiet morning train station garden".split(" ");
const BENIGN = "thanks great helpful agree interesting lovely welcome kind appreciate nice".split(" ");
const TOXIC = "idiot stupid moron pathetic loser disgusting shut dumb worthless clown".split(" ");

/** Sentences of neutral words plus 1–2 benign or toxic cue words; `noise` of labels flipped. */
function synthetic(n: number, seed: number, noise = 0.05, len: [number, number] = [4, 14]) {
  const rng = makeRng(seed);
  const pick = (xs: string[]) => xs[Math.floor(rng.next() * xs.length)];
  return Array.from({ length: n }, () => {
    const label = rng.next() < 0.45 ? 1 : 0;
    const k = len[0] + Math.floor(rng.next() * (len[1] - len[0] + 1));
    const ws = Array.from({ length: k }, () => pick(NEUTRAL));
    const cues = 1 + Math.floor(rng.next() * 2);
    for (let c = 0; c < cues; c++) ws.splice(Math.floor(rng.next() * ws.length), 0, pick(label ? TOXIC : BENIGN));
    return { text: ws.join(" "), label: rng.next() < noise ? 1 - label : label };
  });
}

test("features: deterministic FNV-1a hashing, NFKC lower-cased words, unit L2 norm", () => {
  assert.equal(fnv1a(""), 0x811c9dc5);
  assert.equal(fnv1a("a"), 0xe40c292c); // published FNV-1a 32-bit test vector
  assert.equal(fnv1a("foobar"), 0xbf9cf968);
  assert.deepEqual(words("You're an IDIOT, ｆｏｏ!"), ["you're", "an", "idiot", "foo"]);
  const v = featurize("you are an idiot");
  let n = 0;
  for (const x of v.val) n += x * x;
  assert.ok(Math.abs(n - 1) < 1e-6);
  for (let i = 1; i < v.idx.length; i++) assert.ok(v.idx[i] > v.idx[i - 1]);
  assert.equal(featurize("").idx.length, 0);
});

test("oracle reaches held-out ROC-AUC ≥ 0.9 on a synthetic set with 5% label noise, and is robust on 1–3 word snippets", async () => {
  const n0 = tf.memory().numTensors;
  const clf = await trainToxicityClassifier(synthetic(1200, 1), { seed: 3, epochs: 4, features: { log2Dims: 14, wordNgrams: [1, 2], charNgrams: [2, 5] } });
  assert.equal(tf.memory().numTensors, n0, "training leaks no tensors");
  // 5% of held-out labels are flipped at random, which caps the attainable AUC below 1 (measured 0.967).
  assert.ok(clf.info.heldOutAuc >= 0.9, `held-out AUC ${clf.info.heldOutAuc}`);
  // On a fresh noise-free set the ranking is (near) perfect.
  const clean = synthetic(400, 99, 0);
  const auc = rocAuc(clf.toxicity(clean.map((d) => d.text)), clean.map((d) => d.label));
  assert.ok(auc >= 0.97, `clean AUC ${auc}`);
  // Short continuations: a lone cue word or an inflected one ("idiots", unseen) lands on the right side.
  const short = synthetic(300, 5, 0, [0, 1]);
  const sAuc = rocAuc(clf.toxicity(short.map((d) => d.text)), short.map((d) => d.label));
  assert.ok(sAuc >= 0.95, `short-snippet AUC ${sAuc}`);
  const [tIdiots, tThanks] = clf.toxicity(["idiots", "thanks"]);
  assert.ok(tIdiots > 0.5 && tThanks < 0.5, `idiots ${tIdiots}, thanks ${tThanks}`);
  assert.deepEqual(clf.constraint(["stupid idiot moron", "thanks a lovely garden"]), [0, 1]);
});

test("fast TS inference equals the tfjs graph the oracle was trained with; save → load is exact", async () => {
  const clf = await trainToxicityClassifier(synthetic(300, 2), { seed: 1, epochs: 2, features: { log2Dims: 12, wordNgrams: [1, 1], charNgrams: [3, 4] } });
  const texts = ["you idiot", "a quiet river town", "", "stupid stupid bridge"];
  const viaTf = tf.tidy(() => {
    const w = tf.tensor1d(clf.weights);
    return texts.map((t) => {
      const v = featurize(t, clf.features);
      const z = tf.add(tf.sum(tf.mul(tf.gather(w, tf.tensor1d(v.idx, "int32")), tf.tensor1d(v.val))), clf.bias);
      return tf.sigmoid(z).dataSync()[0];
    });
  });
  clf.toxicity(texts).forEach((p, i) => assert.ok(Math.abs(p - viaTf[i]) < 1e-6));
  const dir = mkdtempSync(join(tmpdir(), "acft-clf-"));
  try {
    clf.save(dir);
    const back = ToxicityClassifier.load(dir);
    assert.deepEqual(back.toxicity(texts), clf.toxicity(texts));
    assert.deepEqual(back.info, clf.info);
    writeFileSync(join(dir, "weights.bin"), Buffer.alloc(8));
    assert.throws(() => ToxicityClassifier.load(dir), (e: unknown) => e instanceof ClassifierError && /weights\.bin/.test(e.message) && /retrain/.test(e.message));
    writeFileSync(join(dir, "classifier.json"), JSON.stringify({ magic: "something-else" }));
    assert.throws(() => ToxicityClassifier.load(dir), /not a toxicity classifier/);
    assert.throws(() => ToxicityClassifier.load(join(dir, "missing")), /cannot read the header/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("soft labels train; bad labels and one-class data are typed errors", async () => {
  const soft = synthetic(600, 4, 0).map((d) => ({ text: d.text, label: d.label ? 0.9 : 0.1 }));
  const clf = await trainToxicityClassifier(soft, { seed: 2, epochs: 6, features: { log2Dims: 12, wordNgrams: [1, 1], charNgrams: [0, 0] } });
  assert.ok(clf.info.heldOutAuc > 0.9, `soft-label held-out AUC ${clf.info.heldOutAuc}`);
  // a score label of 0.9 is a target, not a class: predictions stay inside (0.1, 0.9)-ish, not at 0/1
  const [hi] = clf.toxicity(["idiot stupid moron"]);
  assert.ok(hi > 0.5 && hi < 0.97, `toxicity ${hi}`);
  await assert.rejects(trainToxicityClassifier([{ text: "x", label: 2 }]), /training row 0\): label 2 is not in \[0, 1\]/);
  await assert.rejects(trainToxicityClassifier(synthetic(50, 1).map((d) => ({ ...d, label: 0 }))), /needs both toxic and non-toxic/);
  assert.deepEqual(constraintFromToxicity([0.2, 0.5, 0.7]), [1, 0, 0]);
  assert.deepEqual(constraintFromToxicity([0.25, 0.5], "soft"), [0.75, 0.5]);
});

test("streamed feature hashing equals hashing the feature strings; featurize matches a Map-based reference", () => {
  const cfg = { log2Dims: 10, wordNgrams: [1, 3] as [number, number], charNgrams: [2, 5] as [number, number] };
  const text = "You're an IDIOT, a total idiot — ｆｏｏ bar!";
  const hs: number[] = [];
  forEachFeatureHash(text, cfg, (h) => hs.push(h));
  assert.deepEqual([...hs].sort(), featureStrings(text, cfg).map(fnv1a).sort()); // same multiset
  // reference: signed counts per bucket in a Map, then L2 normalisation
  const acc = new Map<number, number>();
  for (const h of hs) acc.set(h & 1023, (acc.get(h & 1023) ?? 0) + (h >>> 31 ? -1 : 1));
  const keys = [...acc.keys()].sort((a, b) => a - b);
  const norm = Math.sqrt(keys.reduce((s, k) => s + acc.get(k)! ** 2, 0));
  const v = featurize(text, cfg);
  assert.deepEqual([...v.idx], keys);
  keys.forEach((k, i) => assert.ok(Math.abs(v.val[i] - acc.get(k)! / norm) < 1e-6));
  assert.deepEqual(featurize(text, cfg), v); // scratch state fully reset between calls
});
