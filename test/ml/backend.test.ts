import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { PRESETS, disposeParams, lmLoss, lmVariables } from "../../ml/lm.ts";
import { perturbedLM, randomIds, relErr, toRef } from "./helpers.ts";
import { refForward } from "./reference.ts";
import { lmForward } from "../../ml/lm.ts";

test("an unknown backend is a typed error listing the valid names", async () => {
  await assert.rejects(initBackend("tpu"), (e: { _tag: string; message: string }) => e._tag === "BackendError" && /wasm, cpu/.test(e.message));
});

test("auto resolves to an available backend and reports why it skipped the others", async () => {
  const choice = await initBackend("auto");
  assert.ok(["tfjs-node-gpu", "tfjs-node", "fast", "wasm"].includes(choice.name));
  if (choice.name === "wasm") assert.match(choice.detail, /skipped: tfjs-node-gpu/);
  await tf.setBackend("cpu");
});

test("an explicitly requested optional package that is absent fails with an install hint", async (t) => {
  try {
    await import("@tensorflow/tfjs-node" as string);
    t.skip("@tensorflow/tfjs-node is installed here");
    return;
  } catch {
    await assert.rejects(initBackend("tfjs-node"), /npm install @tensorflow\/tfjs-node/);
  }
});

test("wasm: embedding gradients (UnsortedSegmentSum) equal the cpu backend's", async () => {
  const c = PRESETS.tiny;
  const ids = randomIds(2, 9, c.vocabSize, 3);
  const grads = async (backend: string) => {
    await initBackend(backend);
    const p = perturbedLM(c, 11);
    const vars = lmVariables(p);
    const out = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => lmLoss(p, c, tf.tensor2d(ids, undefined, "int32")), [vars.wte, vars.wpe]);
      return [grads[vars.wte.name].dataSync(), grads[vars.wpe.name].dataSync()];
    });
    disposeParams(vars);
    return out;
  };
  const [wteW, wpeW] = await grads("wasm");
  const [wteC, wpeC] = await grads("cpu");
  const close = (a: Float32Array | Int32Array | Uint8Array, b: typeof a) => a.every((v, i) => Math.abs(v - b[i]) < 1e-5);
  assert.ok(wteC.some((v) => v !== 0));
  assert.ok(close(wteW, wteC), "wte gradient");
  assert.ok(close(wpeW, wpeC), "wpe gradient");
});

test("wasm: forward logits equal the float64 reference within 1e-4 relative", async () => {
  await initBackend("wasm");
  const c = PRESETS.tiny;
  const p = perturbedLM(c, 12);
  const ids = randomIds(2, c.contextLength, c.vocabSize, 4);
  const logits = tf.tidy(() => lmForward(p, c, tf.tensor2d(ids, undefined, "int32")).logits.arraySync());
  ids.forEach((row, b) => {
    const err = relErr(logits[b].flat(), refForward(toRef(p), c, row).flatMap((r) => [...r]));
    assert.ok(err < 1e-4, `sequence ${b}: ${err}`);
  });
  disposeParams(lmVariables(p));
  await tf.setBackend("cpu");
});
