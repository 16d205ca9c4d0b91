// Opt-in (ACFT_SLOW=1): the whole ML core on real text. Trains a BPE tokenizer on WikiText-2,
// pretrains a small LM for a few hundred steps on the wasm backend, and checks that held-out loss
// falls well below the uniform baseline and that scoring/generation run on the trained model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { trainTokenizer } from "../../ml/tokenizer.ts";
import { disposeParams, initLM, lmLoss, lmVariables, type LMConfig } from "../../ml/lm.ts";
import { train } from "../../ml/train.ts";
import { plainLanguageModel } from "../../ml/languageModel.ts";
import { makeRng } from "../../ml/prng.ts";

const dir = new URL("../../../shared/datasets/wikitext-2", import.meta.url).pathname;

test("WikiText-2: tokenizer + small LM pretraining lowers held-out loss far below uniform", async (t) => {
  if (!existsSync(join(dir, "train.txt"))) return t.skip(`../shared/datasets not found: ${dir}`);
  await initBackend("wasm");
  const lines = (f: string) => readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l.trim().length > 0);
  const trainLines = lines("train.txt").slice(0, 4000);
  const validLines = lines("valid.txt").slice(0, 200);
  const tok = trainTokenizer(trainLines, { vocabSize: 512 });
  const c: LMConfig = { vocabSize: tok.vocabSize, contextLength: 64, dModel: 64, nHeads: 4, nLayers: 2, mlpRatio: 4, dropout: 0 };
  const stream = (ls: string[]) => ls.flatMap((l) => tok.encode(l, { bos: true }));
  const trainIds = stream(trainLines);
  const validIds = stream(validLines);
  const window = (ids: number[], at: number) => ids.slice(at, at + c.contextLength + 1);
  const p = initLM(c, 0);
  const vars = lmVariables(p);
  const rng = makeRng(0);
  const starts = Array.from({ length: 400 * 8 }, () => Math.floor(rng.next() * (trainIds.length - c.contextLength - 1)));
  const valid = Array.from({ length: 16 }, (_, i) => window(validIds, i * c.contextLength));
  const evalLoss = () => tf.tidy(() => lmLoss(p, c, tf.tensor2d(valid, undefined, "int32")).dataSync()[0]);
  const before = evalLoss();
  const hist = await train({
    variables: vars, steps: 400, optimizer: { lr: 3e-3, betas: [0.9, 0.95], weightDecay: 0.1 }, schedule: { warmup: 20 }, clipNorm: 1,
    batches: (s) => starts.slice(s * 8, s * 8 + 8).map((a) => window(trainIds, a)),
    loss: (b: number[][]) => lmLoss(p, c, tf.tensor2d(b, undefined, "int32")),
    evalEvery: 100, evalLoss,
  });
  const after = hist[hist.length - 1].evalLoss!;
  t.diagnostic(`held-out loss ${before.toFixed(3)} -> ${after.toFixed(3)} (uniform ${Math.log(c.vocabSize).toFixed(3)})`);
  assert.ok(Math.abs(before - Math.log(c.vocabSize)) < 0.1, "an untrained model is near uniform");
  assert.ok(after < before - 1.5, `held-out loss ${after} did not fall enough from ${before}`);
  const lm = plainLanguageModel(p, c, tok);
  const [good, bad] = await lm.logLikelihood([
    { context: " The game was released in", continuation: " the" },
    { context: " The game was released in", continuation: " ;;;" },
  ]);
  assert.ok(good.logprob > bad.logprob);
  const [text] = await lm.generate([" The"], { maxNewTokens: 20, temperature: 0.8, seed: 1 });
  t.diagnostic(`sample: ${JSON.stringify(text)}`);
  assert.ok(text.length > 0);
  disposeParams(vars);
});
