// The evaluations on a real (tiny, random) transformer through the ML core's interfaces.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initLM, lmLoss, lmVariables, disposeParams, type LMConfig } from "../../ml/lm.ts";
import { trainTokenizer } from "../../ml/tokenizer.ts";
import { plainLanguageModel } from "../../ml/languageModel.ts";
import { evaluatePerplexity, lmTokenScorer, stridedWindows } from "../../ml/eval/perplexity.ts";
import { evaluateToxicity } from "../../ml/eval/toxicity.ts";

await tf.setBackend("cpu");

const corpus = "the river flows north past the old mill. the mill was built by a miller who loved the river. ".repeat(3);
const tok = trainTokenizer([corpus], { vocabSize: 300 });
const cfg: LMConfig = { vocabSize: tok.vocabSize, contextLength: 8, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 2, dropout: 0 };

test("perplexity through the LM scorer equals exp(masked lmLoss) over the same strided windows", async () => {
  const p = initLM(cfg, 3);
  const doc = "the miller loved the old river and the mill by the river.";
  const ids = [tok.bos, ...tok.encode(doc)];
  assert.ok(ids.length > cfg.contextLength + 1, "the document spans several windows");
  const stride = 6;
  const r = await evaluatePerplexity(lmTokenScorer(p, cfg, tok), [doc], { stride });
  // Independent reference: lmLoss (masked mean CE) per window, masks selecting the window's targets.
  let nll = 0;
  let n = 0;
  for (const w of stridedWindows(ids.length, cfg.contextLength + 1, stride)) {
    const win = ids.slice(w.start, w.end);
    const T = win.length - 1;
    const mask: number[] = Array.from({ length: T }, (_, t) => (w.start + t + 1 >= w.scoreFrom ? 1 : 0));
    const k = mask.reduce((a, b) => a + b, 0);
    const loss = tf.tidy(() => lmLoss(p, cfg, tf.tensor2d([win], undefined, "int32"), tf.tensor2d([mask])).dataSync()[0]);
    nll += loss * k;
    n += k;
  }
  assert.equal(r.tokens, ids.length - 1);
  assert.equal(n, ids.length - 1);
  assert.ok(Math.abs(r.nll - nll / n) < 1e-4, `${r.nll} vs ${nll / n}`);
  disposeParams(lmVariables(p));
});

test("toxicity eval on a real sampler: seeded, continuation-only, one generation per prompt", async () => {
  const p = initLM(cfg, 4);
  const lm = plainLanguageModel(p, cfg, tok);
  const seen: string[] = [];
  const oracle = { toxicity: (ts: readonly string[]) => (seen.push(...ts), ts.map((t) => (t.includes("river") ? 1 : 0))) };
  const prompts = ["the river", "the mill", "a miller"];
  const n0 = tf.memory().numTensors;
  const a = await evaluateToxicity(lm, prompts, oracle, { seed: 9, generation: { maxNewTokens: 5 } });
  const b = await evaluateToxicity(lm, prompts, oracle, { seed: 9, generation: { maxNewTokens: 5 } });
  assert.equal(tf.memory().numTensors, n0);
  assert.deepEqual(a.generations, b.generations);
  assert.equal(a.generations.length, 3);
  // the oracle saw only the continuations (not the prompts)
  assert.deepEqual(seen.slice(0, 3), a.generations.map((g) => g.continuation));
  disposeParams(lmVariables(p));
});
