import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { cutAtStop, plainLanguageModel } from "../../ml/languageModel.ts";
import { trainTokenizer } from "../../ml/tokenizer.ts";
import { disposeParams, initLM, lmLoss, lmVariables, type LMConfig } from "../../ml/lm.ts";
import { scoreContinuations } from "../../ml/score.ts";
import { train } from "../../ml/train.ts";

await tf.setBackend("cpu");
const text = "the cat sat on the mat. the dog lay on the rug.";
const tok = trainTokenizer([text], { vocabSize: 280 });
const c: LMConfig = { vocabSize: tok.vocabSize, contextLength: 64, dModel: 32, nHeads: 2, nLayers: 1, mlpRatio: 4, dropout: 0 };
const p = initLM(c, 3);
const ids = tok.encode(text, { bos: true, eos: true });

test("a model trained on one text continues it, scores it above alternatives, and stops at EOS", async () => {
  await train({
    variables: lmVariables(p), steps: 60, optimizer: { lr: 1e-2 }, batches: () => [ids],
    loss: (b: number[][]) => lmLoss(p, c, tf.tensor2d(b, undefined, "int32")),
  });
  const lm = plainLanguageModel(p, c, tok);
  const [gen, gen2] = await lm.generate(["the cat sat", "the cat sat on the mat. the dog"], { maxNewTokens: 30, temperature: 0 });
  assert.equal(gen, " on the mat. the dog lay on the rug."); // stopped by EOS, which is not returned
  assert.equal(gen2, " lay on the rug.");
  const [right, wrong] = await lm.logLikelihood([
    { context: "the cat sat on the", continuation: " mat." },
    { context: "the cat sat on the", continuation: " dog." },
  ]);
  assert.ok(right.logprob > wrong.logprob);
  assert.equal(right.greedyMatch, true);
  assert.equal(wrong.greedyMatch, false);
  assert.equal(right.tokens, tok.encode(" mat.").length);
  // the same numbers as scoring the token ids directly (BOS-prefixed context)
  const [direct] = scoreContinuations(p, c, [{ context: tok.encode("the cat sat on the", { bos: true }), continuation: tok.encode(" mat.") }]);
  assert.equal(right.logprob, direct.logprob);
  const stopped = await lm.generate(["the cat sat"], { maxNewTokens: 30, temperature: 0, stop: [" the"] });
  assert.deepEqual(stopped, [" on"]);
});

test("sampled text generation is seeded and batched in chunks", async () => {
  const lm = plainLanguageModel(p, c, tok, { batchSize: 2 });
  const prompts = ["the", "the cat", "a", "on the"];
  const a = await lm.generate(prompts, { maxNewTokens: 8, temperature: 1.5, seed: 9 });
  assert.deepEqual(await lm.generate(prompts, { maxNewTokens: 8, temperature: 1.5, seed: 9 }), a);
  assert.equal(a.length, 4);
  assert.equal(cutAtStop("abc\nxyz", ["\n", "z"]), "abc");
});

test.after(() => disposeParams(lmVariables(p)));
