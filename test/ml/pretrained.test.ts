// loadPretrained: a user's checkpoint as acft's LM + tokenizer. The GGUF path against an independent
// float64 forward pass of the raw file and against transformers' logits (fixture); the real TinyStories
// model (../shared/models/stories260K.gguf) writes its documented story greedily from BOS; a Hugging
// Face directory loads with its tokenizer; bad paths fail with typed errors; limitContext.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ml/backend.ts";
import { openGguf } from "../../ml/formats/gguf.ts";
import { exportHfDirectory, loadHfDirectory } from "../../ml/formats/hf.ts";
import { generateIds } from "../../ml/generate.ts";
import { disposeParams, lmForward, lmVariables, type LMConfig, type LMParams } from "../../ml/lm.ts";
import { limitContext, loadPretrained } from "../../ml/pretrained.ts";
import { ggufLlamaLogits } from "./ggufReference.ts";

const FIX = new URL("../fixtures/", import.meta.url).pathname;
const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const noStories = existsSync(STORIES) ? false : `the shared model ${STORIES} is absent (it lives in ../shared/models beside the project)`;

await initBackend("cpu");

const logitsOf = (m: { params: LMParams; config: LMConfig }, ids: number[]): Float32Array =>
  tf.tidy(() => lmForward(m.params, m.config, tf.tensor2d([ids], [1, ids.length], "int32")).logits.dataSync() as Float32Array);

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

test("a GGUF Llama (GQA, interleaved RoPE in the file) matches a float64 pass over the raw file and transformers' logits", async () => {
  const path = join(FIX, "pretrained", "tiny-llama.gguf");
  const refs = JSON.parse(readFileSync(join(FIX, "pretrained", "tiny-llama-refs.json"), "utf8")) as { ids: number[]; logits: number[] };
  const m = await loadPretrained(path);
  try {
    assert.equal(m.format, "gguf");
    const got = logitsOf(m, refs.ids);
    const f = await openGguf(path);
    const ref64 = ggufLlamaLogits(f, refs.ids).flatMap((r) => [...r]);
    f.close();
    assert.ok(maxAbsDiff(got, ref64) < 1e-4, `vs float64: ${maxAbsDiff(got, ref64)}`);
    assert.ok(maxAbsDiff(got, refs.logits) < 1e-4, `vs transformers: ${maxAbsDiff(got, refs.logits)}`);
    assert.ok(maxAbsDiff(ref64, refs.logits) < 1e-4, "the two references agree with each other");
    assert.ok(Math.max(...refs.logits) - Math.min(...refs.logits) > 1, "logits far from uniform");
  } finally {
    disposeParams(lmVariables(m.params));
  }
});

test("stories260K: logits equal a float64 pass over the raw GGUF; greedy from BOS writes the documented story", { skip: noStories }, async () => {
  const m = await loadPretrained(STORIES);
  try {
    assert.deepEqual([m.config.nLayers, m.config.dModel, m.config.nHeads, m.config.nKVHeads, m.config.vocabSize], [5, 64, 8, 4, 512]);
    const ids = m.tokenizer.encode("Once upon a time, there was a little dog named Max. He liked to run", { bos: true });
    const got = logitsOf(m, ids);
    const f = await openGguf(STORIES);
    const ref = ggufLlamaLogits(f, ids).flatMap((r) => [...r]);
    f.close();
    const diff = maxAbsDiff(got, ref);
    assert.ok(diff < 1e-4, `max |acft − float64| = ${diff}`);
    const [story] = generateIds(m.params, m.config, [[m.tokenizer.bos]], { maxNewTokens: 48, temperature: 0 });
    const text = m.tokenizer.decode(story);
    assert.ok(text.startsWith("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball."), text);
  } finally {
    disposeParams(lmVariables(m.params));
  }
});

test("a GGUF model exported as a Hugging Face directory (+ its tokenizer files) loads back with the same logits and ids", async () => {
  const m = await loadPretrained(join(FIX, "pretrained", "tiny-llama.gguf"));
  const dir = mkdtempSync(join(tmpdir(), "acft-hfdir-"));
  try {
    await exportHfDirectory(dir, m.params, m.config, { bos_token_id: m.tokenizer.bos, eos_token_id: m.tokenizer.eos });
    for (const [name, json] of Object.entries(m.tokenizer.files())) writeFileSync(join(dir, name), JSON.stringify(json));
    const back = await loadPretrained(dir);
    try {
      assert.equal(back.format, "hf");
      const text = "Once upon a time, a tiny model ✓ 123";
      assert.deepEqual(back.tokenizer.encode(text, { bos: true }), m.tokenizer.encode(text, { bos: true }));
      const ids = m.tokenizer.encode(text, { bos: true });
      assert.deepEqual(logitsOf(back, ids), logitsOf(m, ids));
    } finally {
      disposeParams(lmVariables(back.params));
    }
  } finally {
    disposeParams(lmVariables(m.params));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("limitContext keeps a learned-position model's first rows and its logits below the cut", async () => {
  const { params, config } = await loadHfDirectory(join(FIX, "hf", "gpt2"));
  const m = { params, config };
  const before = logitsOf(m, [1, 2, 3, 4]);
  const wpe = params.wpe!.arraySync() as number[][];
  const cut = limitContext(config, params, 8);
  try {
    assert.equal(cut.config.contextLength, 8);
    assert.deepEqual(cut.params.wpe!.arraySync(), wpe.slice(0, 8));
    assert.deepEqual(logitsOf(cut, [1, 2, 3, 4]), before, "positions below the cut give the same logits");
    assert.equal(limitContext(cut.config, cut.params, 64).config.contextLength, 8, "never lengthened");
  } finally {
    disposeParams(lmVariables(cut.params));
  }
});

test("bad checkpoints: a missing path, a file that is not GGUF, a directory without config.json, a tokenizer that does not fit", async () => {
  await assert.rejects(loadPretrained("/nonexistent/model.gguf"), (e: any) => e._tag === "ModelFormatError" && /does not exist; pass --model a Hugging Face model directory/.test(e.message));
  await assert.rejects(loadPretrained(join(FIX, "pretrained", "tokenizer-gpt2.json")), (e: any) => e._tag === "ModelFormatError" && e.file.endsWith("tokenizer-gpt2.json"));
  await assert.rejects(loadPretrained(join(FIX, "pretrained")), (e: any) => e._tag === "ModelFormatError" && /config\.json/.test(e.message));
  const dir = mkdtempSync(join(tmpdir(), "acft-hfdir-"));
  try {
    for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(FIX, "hf", "gpt2", f), join(dir, f));
    copyFileSync(join(FIX, "pretrained", "tokenizer-gpt2.json"), join(dir, "tokenizer.json")); // 672 tokens, the model has 101 rows
    await assert.rejects(loadPretrained(dir), (e: any) => e._tag === "TokenizerFormatError" && /has ids up to 671 but the model .* has only 101 embedding rows; use the tokenizer saved with this model/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
