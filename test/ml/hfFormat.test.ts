// Safetensors and Hugging Face directories: dtype decoding against torch's values, the writer's
// round trip, export -> load identity, the committed export that transformers loaded with the same
// logits (scripts/fixtures/hf_export_check.py), and the typed errors for bad checkpoints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { ModelFormatError } from "../../ml/errors.ts";
import { PRESETS, disposeParams, lmVariables } from "../../ml/lm.ts";
import { perturbedLM } from "./helpers.ts";
import { encodeSafetensors, parseSafetensors, decodeTensor, readSafetensorsFloat32, type HostTensor } from "../../ml/formats/safetensors.ts";
import { exportHfDirectory, hfConfigToLM, lmConfigToHf, loadHfDirectory, readHfDirectory } from "../../ml/formats/hf.ts";
import { EXPORTED, FIX, fineTuneAndExport } from "./hfExport.ts";

await tf.setBackend("cpu");
const tmp = mkdtempSync(join(tmpdir(), "acft-hf-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test("F32, F16 and BF16 decode to the float32 values torch gives", async () => {
  const want = JSON.parse(readFileSync(join(FIX, "dtypes.json"), "utf8")) as Record<string, { shape: number[]; values: number[] }>;
  const got = await readSafetensorsFloat32(join(FIX, "dtypes.safetensors"));
  assert.deepEqual([...got.keys()].sort(), Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const g = got.get(name)!;
    assert.deepEqual(g.shape, w.shape, name);
    assert.deepEqual(Array.from(g.data), Array.from(Float32Array.from(w.values)), `${name}: values`);
  }
  // the fixture covers rounding in each dtype: f16 and bf16 differ from the f32 values
  assert.notDeepEqual(Array.from(got.get("f16")!.data), Array.from(got.get("f32")!.data));
  assert.notDeepEqual(Array.from(got.get("bf16")!.data), Array.from(got.get("f16")!.data));
});

test("safetensors written by acft read back bit for bit, with 8-byte aligned data", () => {
  const tensors = new Map<string, HostTensor>([
    ["a.weight", { shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => Math.sin(i) * 1e3) }],
    ["b", { shape: [7], data: Float32Array.from([0, -0, Infinity, -1e-38, 1, 2, 3]) }],
    ["scalar", { shape: [], data: Float32Array.from([42]) }],
  ]);
  const bytes = encodeSafetensors(tensors, { format: "pt" });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0);
  const raw = parseSafetensors(bytes, "mem");
  for (const [name, t] of tensors) {
    const d = decodeTensor(raw.get(name)!, name, "mem");
    assert.deepEqual(d.shape, t.shape);
    assert.deepEqual(Array.from(d.data), Array.from(t.data), name);
  }
});

for (const name of ["gpt2", "llama", "qwen2"]) {
  test(`${name}: export then load gives back the same tensors and config`, async () => {
    const src = await readHfDirectory(join(FIX, name));
    const { config, params } = await loadHfDirectory(join(FIX, name));
    const out = join(tmp, `rt-${name}`);
    try {
      await exportHfDirectory(out, params, config);
    } finally {
      disposeParams(lmVariables(params));
    }
    const back = await readHfDirectory(out);
    assert.deepEqual([...back.tensors.keys()].sort(), [...src.tensors.keys()].sort(), "tensor names");
    for (const [k, t] of src.tensors) {
      assert.deepEqual(back.tensors.get(k)!.shape, t.shape, k);
      assert.ok(back.tensors.get(k)!.data.every((x, i) => x === t.data[i]), `${k}: values differ`);
    }
    assert.deepEqual(hfConfigToLM(back.config, out).config, hfConfigToLM(src.config, join(FIX, name)).config);
  });
}

test("transformers loaded acft's export of fine-tuned models with the same logits; the export is still byte for byte what it checked", async () => {
  const check = JSON.parse(readFileSync(join(FIX, "export", "check.json"), "utf8"));
  assert.equal(check.pass, true);
  for (const name of EXPORTED) {
    const m = check.models[name];
    assert.ok(m && m.maxAbsLogitDiff <= 1e-4, `${name}: transformers vs acft logits ${m?.maxAbsLogitDiff}`);
    const out = join(tmp, `ft-${name}`);
    await fineTuneAndExport(name, out);
    for (const f of ["config.json", "model.safetensors", "acft_logits.json"])
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(FIX, "export", name, f))),
        `${name}/${f} differs from the committed export that transformers checked: rerun scripts/fixtures/hf_export.ts and hf_export_check.py`);
    // the fine-tuning changed every tensor
    const before = await readHfDirectory(join(FIX, name));
    const after = await readHfDirectory(out);
    for (const [k, t] of before.tensors) assert.ok(after.tensors.get(k)!.data.some((x, i) => x !== t.data[i]), `${name}: ${k} unchanged by fine-tuning`);
  }
});

test("GPT-2 and Llama-family configs map both ways", () => {
  const gpt2 = JSON.parse(readFileSync(join(FIX, "gpt2", "config.json"), "utf8"));
  assert.deepEqual(hfConfigToLM(gpt2, "c").config, { vocabSize: 101, contextLength: 32, dModel: 32, nHeads: 4, nLayers: 2, mlpRatio: 4, dropout: 0 });
  const llama = JSON.parse(readFileSync(join(FIX, "llama", "config.json"), "utf8"));
  const lc = hfConfigToLM(llama, "c").config;
  assert.deepEqual(lc, {
    vocabSize: 101, contextLength: 32, dModel: 32, nHeads: 4, nLayers: 2, mlpRatio: 72 / 32, mlpHidden: 72, dropout: 0,
    norm: "rmsnorm", normEps: 1e-6, positions: "rope", ropeTheta: 5000, mlp: "swiglu", nKVHeads: 2,
    qkvBias: false, projBias: false, mlpBias: false, tiedHead: false,
  });
  // transformers 4 wrote rope_theta at the top level; 5 writes rope_parameters: both read the same
  const v4 = { ...llama, rope_theta: 5000, rope_parameters: undefined };
  assert.deepEqual(hfConfigToLM(v4, "c").config, lc);
  const qwen = hfConfigToLM(JSON.parse(readFileSync(join(FIX, "qwen2", "config.json"), "utf8")), "c").config;
  assert.equal(qwen.qkvBias, true);
  assert.equal(qwen.projBias, false);
  assert.equal(lmConfigToHf(qwen).hf.model_type, "qwen2");
  assert.equal(lmConfigToHf(lc).hf.model_type, "llama");
  // Mistral's sliding window caps the context where it would matter
  assert.equal(hfConfigToLM({ ...llama, model_type: "mistral", sliding_window: 16 }, "c").config.contextLength, 16);
  assert.throws(() => lmConfigToHf({ ...lc, positions: "learned" }), (e: unknown) => e instanceof ModelFormatError && /no Hugging Face architecture/.test(e.message));
});

/** A copy of fixture `name` in a temp dir, with config fields changed and files edited. */
const variant = (name: string, tag: string, edit: (dir: string, cfg: Record<string, unknown>) => Record<string, unknown> | false | void): string => {
  const dir = join(tmp, `${name}-${tag}`);
  rmSync(dir, { recursive: true, force: true });
  const src = join(FIX, name);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir, f));
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const next = edit(dir, cfg) ?? cfg;
  if (next) writeFileSync(join(dir, "config.json"), JSON.stringify(next)); // false: the edit removed it
  return dir;
};

/** Asserts that loading `dir` fails with a ModelFormatError whose message matches and names `what`. */
const rejects = async (dir: string, pattern: RegExp, what: Partial<Pick<ModelFormatError, "tensor" | "field">> = {}) => {
  await assert.rejects(loadHfDirectory(dir), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${String(e)}`);
    assert.match(e.message, pattern);
    if (what.tensor) assert.equal(e.tensor, what.tensor);
    if (what.field) assert.equal(e.field, what.field);
    return true;
  });
};

test("bad checkpoints get ModelFormatErrors naming the file, tensor or field", async () => {
  await rejects(variant("gpt2", "type", (_, c) => ({ ...c, model_type: "bert" })), /model_type.*"bert".*acft supports gpt2, llama, mistral, qwen2/, { field: "model_type" });
  await rejects(variant("llama", "scaling", (_, c) => ({ ...c, rope_scaling: { type: "linear", factor: 2 } })), /rope_scaling.*plain RoPE only/, { field: "rope_scaling" });
  await rejects(variant("llama", "ropetype", (_, c) => ({ ...c, rope_parameters: { rope_type: "llama3", rope_theta: 5000 } })), /rope_type "llama3"/, { field: "rope_parameters" });
  await rejects(variant("llama", "act", (_, c) => ({ ...c, hidden_act: "gelu" })), /hidden_act/, { field: "hidden_act" });
  await rejects(variant("gpt2", "act", (_, c) => ({ ...c, activation_function: "relu" })), /activation_function/, { field: "activation_function" });
  await rejects(variant("llama", "headdim", (_, c) => ({ ...c, head_dim: 16 })), /head_dim/, { field: "head_dim" });
  await rejects(variant("gpt2", "nofield", (_, c) => { delete c.n_embd; }), /"n_embd" is missing/, { field: "n_embd" });
  await rejects(variant("gpt2", "shape", (_, c) => ({ ...c, n_inner: 64 })), /shape \[32,128\], but config.json implies \[32,64\]/, { tensor: "transformer.h.0.mlp.c_fc.weight" });
  await rejects(variant("qwen2", "bias", (_, c) => ({ ...c, model_type: "llama", architectures: ["LlamaForCausalLM"] })), /unexpected tensor "model.layers.0.self_attn.[qkv]_proj.bias"/);
  await rejects(variant("llama", "tied", (_, c) => ({ ...c, tie_word_embeddings: true })), /lm_head.weight" differs from the token embedding/, { tensor: "lm_head.weight" });
  await rejects(variant("llama", "noshard", (d) => { rmSync(join(d, "model-00007-of-00007.safetensors")); }), /cannot read .*model-00007-of-00007.safetensors/);
  await rejects(variant("llama", "noidx", (d) => { rmSync(join(d, "model.safetensors.index.json")); }), /neither model.safetensors nor model.safetensors.index.json/);
  await rejects(variant("gpt2", "noconfig", (d) => { rmSync(join(d, "config.json")); return false; }), /config.json is missing/);
  // a tensor missing from the file, and one stored in an unsupported dtype
  const gpt2 = await readSafetensorsFloat32(join(FIX, "gpt2", "model.safetensors"));
  await rejects(variant("gpt2", "missing", (d) => {
    const m = new Map(gpt2);
    m.delete("transformer.h.1.ln_2.bias");
    writeFileSync(join(d, "model.safetensors"), encodeSafetensors(m));
  }), /tensor "transformer.h.1.ln_2.bias" is missing/, { tensor: "transformer.h.1.ln_2.bias" });
  await rejects(variant("gpt2", "dtype", (d) => {
    const bytes = encodeSafetensors(gpt2);
    const text = new TextDecoder().decode(bytes);
    const at = text.indexOf('"transformer.wpe.weight":{"dtype":"F32"');
    bytes.set(new TextEncoder().encode('"transformer.wpe.weight":{"dtype":"I32"'), at); // same length
    writeFileSync(join(d, "model.safetensors"), bytes);
  }), /dtype I32; acft reads F32, F16, BF16, F64/, { tensor: "transformer.wpe.weight" });
  await rejects(variant("gpt2", "trunc", (d) => {
    writeFileSync(join(d, "model.safetensors"), readFileSync(join(FIX, "gpt2", "model.safetensors")).subarray(0, 5000));
  }), /lies outside the file/);
});

test("GPT-2 in the original hub layout (no \"transformer.\" prefix, attention-mask buffers) loads the same", async () => {
  const dir = variant("gpt2", "hub", (d) => {
    const src = parseSafetensors(readFileSync(join(FIX, "gpt2", "model.safetensors")), "src");
    const m = new Map<string, HostTensor>();
    for (const [k, raw] of src) m.set(k.replace(/^transformer\./, ""), decodeTensor(raw, k, "src"));
    for (const l of [0, 1]) m.set(`h.${l}.attn.bias`, { shape: [1, 1, 32, 32], data: new Float32Array(32 * 32).fill(1) });
    writeFileSync(join(d, "model.safetensors"), encodeSafetensors(m));
  });
  const a = await loadHfDirectory(join(FIX, "gpt2"));
  const b = await loadHfDirectory(dir);
  const va = lmVariables(a.params), vb = lmVariables(b.params);
  for (const k of Object.keys(va)) assert.deepEqual(vb[k].dataSync(), va[k].dataSync(), k);
  disposeParams(va);
  disposeParams(vb);
});

test("acft's own from-scratch LM exports as GPT2LMHeadModel and loads back identical", async () => {
  const c = { ...PRESETS.tiny, dropout: 0.1 };
  const p = perturbedLM(c, 4);
  const out = join(tmp, "own");
  await exportHfDirectory(out, p, c, { bos_token_id: 61, eos_token_id: 62 });
  const q = await loadHfDirectory(out);
  assert.equal(q.hfConfig.model_type, "gpt2");
  assert.equal(q.hfConfig.eos_token_id, 62);
  assert.deepEqual(q.config, { ...c, dropout: 0 }, "the same architecture (dropout is a training setting, exported as 0)");
  const a = lmVariables(p), b = lmVariables(q.params);
  assert.deepEqual(Object.keys(b), Object.keys(a));
  for (const k of Object.keys(a)) assert.deepEqual(b[k].dataSync(), a[k].dataSync(), k);
  disposeParams(a);
  disposeParams(b);
});
