// Golden parity with transformers (fixtures by scripts/fixtures/hf_models.py): a GPT-2, a Llama with
// grouped-query attention, an untied head and sharded safetensors, and a Qwen2 with q/k/v biases,
// loaded from their HF directories. On the stock cpu path (reference ops) and on the fast path:
// logits of a left-padded batch within 1e-4 absolute, the loss, every parameter gradient within
// 1e-3 relative, and batched KV-cached greedy decoding identical token for token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type LMConfig, type LMParams, disposeParams, lmForward, lmLoss, lmVariables } from "../../ml/lm.ts";
import { MASKED } from "../../ml/ops.ts";
import { generateIds } from "../../ml/generate.ts";
import { hfToValues, loadHfDirectory } from "../../ml/formats/hf.ts";
import { readSafetensorsFloat32 } from "../../ml/formats/safetensors.ts";
import { FAST_BACKEND } from "../../ml/fast/index.ts";
import { onBackend as on, setup, skipReason } from "../fast/helpers.ts";
import { relErr } from "./helpers.ts";

const FIX = join("test", "fixtures", "hf");
const MODELS = ["gpt2", "llama", "qwen2"] as const;

interface Reference {
  ids: number[][]; positions: number[][]; lossMask: number[][]; pads: number[];
  logits: (number[][] | null)[][]; loss: number; prompts: number[][]; greedy: number[][];
}
const reference = (name: string): Reference => JSON.parse(readFileSync(join(FIX, name, "reference.json"), "utf8"));

const fastSkip = skipReason();
await setup();
const BACKENDS = [["cpu", null], [FAST_BACKEND, fastSkip]] as const;

/** The batch's model inputs: ids (B, T+1), positions (B, T), key bias (B, 1, 1, T) hiding left padding. */
const inputs = (r: Reference) => {
  const B = r.ids.length, T = r.ids[0].length - 1;
  const bias = r.pads.flatMap((pad) => Array.from({ length: T }, (_, j) => (j < pad ? MASKED : 0)));
  return {
    ids: tf.tensor2d(r.ids, undefined, "int32"),
    inputIds: tf.tensor2d(r.ids.map((row) => row.slice(0, T)), undefined, "int32"),
    positions: tf.tensor2d(r.positions.map((row) => row.slice(0, T)), undefined, "int32"),
    keyBias: tf.tensor4d(bias, [B, 1, 1, T]),
    mask: tf.tensor2d(r.lossMask),
  };
};

const maxAbsLogitErr = (p: LMParams, c: LMConfig, r: Reference): number => tf.tidy(() => {
  const x = inputs(r);
  const got = lmForward(p, c, x.inputIds, { positions: x.positions, keyBias: x.keyBias }).logits.arraySync();
  let err = 0;
  r.logits.forEach((row, b) => row.forEach((want, t) => {
    if (!want) return; // a padding position: no reference
    want.forEach((w, v) => { err = Math.max(err, Math.abs(got[b][t][v] - (w as unknown as number))); });
  }));
  return err;
});

for (const name of MODELS) {
  for (const [backend, skip] of BACKENDS) {
    test(`${name} on ${backend}: logits, loss, gradients and greedy decoding match transformers`, skip ? { skip } : {}, () => on(backend, async () => {
      const r = reference(name);
      const { config: c, params: p } = await loadHfDirectory(join(FIX, name));
      try {
        const logitErr = maxAbsLogitErr(p, c, r);
        assert.ok(logitErr <= 1e-4, `logits: max |diff| ${logitErr}`);

        const vars = lmVariables(p);
        const { value, grads } = tf.variableGrads(() => {
          const x = inputs(r);
          return lmLoss(p, c, x.ids, x.mask, { positions: x.positions, keyBias: x.keyBias });
        }, Object.values(vars));
        const loss = value.dataSync()[0];
        assert.ok(Math.abs(loss - r.loss) <= 1e-5 * Math.abs(r.loss), `loss ${loss} vs ${r.loss}`);
        // d loss / d parameter by HF name, mapped to acft's parameters by the loader's own table
        const hfConfig = JSON.parse(readFileSync(join(FIX, name, "config.json"), "utf8"));
        const gradFile = join(FIX, name, "grads.safetensors");
        const refGrads = hfToValues({ config: hfConfig, tensors: await readSafetensorsFloat32(gradFile), source: gradFile }).values;
        let worst = 0;
        for (const [k, v] of Object.entries(vars)) {
          const e = relErr(grads[v.name].dataSync(), refGrads[k].data);
          worst = Math.max(worst, e);
          assert.ok(e <= 1e-3, `gradient of ${k}: relative error ${e}`);
        }
        tf.dispose([value, ...Object.values(grads)]);

        const greedy = generateIds(p, c, r.prompts, { maxNewTokens: r.greedy[0].length, temperature: 0 });
        assert.deepEqual(greedy, r.greedy, "KV-cached batched greedy tokens");
        const uncached = generateIds(p, c, r.prompts, { maxNewTokens: r.greedy[0].length, temperature: 0, useCache: false });
        assert.deepEqual(uncached, r.greedy, "uncached greedy tokens");
        console.log(`# ${name}/${backend}: logits max |diff| ${logitErr.toExponential(2)}, loss diff ${Math.abs(loss - r.loss).toExponential(2)}, worst gradient rel. err ${worst.toExponential(2)}`);
      } finally {
        disposeParams(lmVariables(p));
      }
    }));
  }
}
