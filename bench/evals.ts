// Oracle speed: training throughput and scoring throughput of the toxicity classifier on generated
// texts (no dataset needed). Usage: npx tsx bench/evals.ts [--backend cpu|wasm|auto] [--rows N]
// Prints figures, then one JSON line.
import { initBackend } from "../ml/backend.ts";
import { trainToxicityClassifier } from "../ml/classify.ts";
import { makeRng } from "../ml/prng.ts";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
};
const backend = await initBackend(arg("backend", "auto"));
const rows = Number(arg("rows", "10000"));

// Comment-like texts: 8–60 words from a 2,000-word vocabulary plus cue words; labels from the cues.
const rng = makeRng(1);
const vocab = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}`);
const cues = ["idiot", "stupid", "moron", "pathetic", "loser", "thanks", "great", "agree", "helpful", "kind"];
const text = (n: number) => Array.from({ length: n }, () => vocab[Math.floor(rng.next() * vocab.length)]);
const data = Array.from({ length: rows }, () => {
  const ws = text(8 + Math.floor(rng.next() * 53));
  const label = rng.next() < 0.45 ? 1 : 0;
  ws.splice(Math.floor(rng.next() * ws.length), 0, cues[(label ? 0 : 5) + Math.floor(rng.next() * 5)]);
  return { text: ws.join(" "), label };
});
const words = data.reduce((s, d) => s + d.text.split(" ").length, 0);

let t = performance.now();
const clf = await trainToxicityClassifier(data, { seed: 0 });
const trainS = (performance.now() - t) / 1000;
const continuations = Array.from({ length: 10000 }, () => text(1 + Math.floor(rng.next() * 24)).join(" "));
clf.toxicity(continuations.slice(0, 200)); // warm-up
t = performance.now();
clf.toxicity(continuations);
const scoreS = (performance.now() - t) / 1000;

console.log(`backend: ${backend.name} (${backend.detail.split(";")[0]})`);
console.log(`oracle training: ${rows} texts (${(words / rows).toFixed(0)} words avg), 6 epochs, D = 2^18: ${trainS.toFixed(1)} s (${Math.round((6 * rows) / trainS)} rows/s), held-out AUC ${clf.info.heldOutAuc.toFixed(4)}`);
console.log(`oracle scoring: 10,000 continuations of 1–24 words: ${scoreS.toFixed(2)} s (${Math.round(10000 / scoreS)} texts/s)`);
console.log(JSON.stringify({ backend: backend.name, oracle_train_s: +trainS.toFixed(2), oracle_train_rows_s: Math.round((6 * rows) / trainS), oracle_score_texts_s: Math.round(10000 / scoreS), held_out_auc: +clf.info.heldOutAuc.toFixed(4) }));
