// GGUF Llama -> Hugging Face Llama: config fields, tensor names, row-major layout and the q/k RoPE
// un-permutation, each tensor checked against what transformers loads from the same file (sha256
// of its float32 bytes), plus a float64 proof that GGUF's interleaved RoPE on the file's q/k equals
// rotate-half RoPE on the converted q/k. Typed errors for files that are not a loadable Llama.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelFormatError } from "../../../ml/errors.ts";
import { openGguf } from "../../../ml/formats/gguf.ts";
import { type HfCheckpoint, ggufLlamaConfig, ggufLlamaName, ggufLlamaTensors, ggufToHfLlama, hfLlamaName, readGgufLlama, unpermuteRope } from "../../../ml/formats/ggufLlama.ts";

const FIX = new URL("../../fixtures/pretrained/", import.meta.url).pathname;
const TINY = join(FIX, "tiny-llama.gguf");
const STORIES = new URL("../../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "acft-ggufllama-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (a: Float32Array): string => createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
const load = (path: string): Promise<HfCheckpoint> => readGgufLlama(path);

/** Every tensor equals transformers' (bitwise), and nothing is missing or extra. */
const sameAsTransformers = (ck: HfCheckpoint, refSha: Record<string, string>) => {
  assert.deepEqual([...ck.tensors.keys()].sort(), Object.keys(refSha).sort());
  for (const [name, t] of ck.tensors) assert.equal(sha(t.data), refSha[name], `${name} differs from transformers' tensor`);
};

test("tiny Llama: config and every tensor equal transformers' GGUF load (q/k un-permuted)", async () => {
  const ref = JSON.parse(readFileSync(join(FIX, "tiny-llama-refs.json"), "utf8"));
  const ck = await load(TINY);
  const c = ck.config, r = ref.config;
  assert.deepEqual(
    [c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
      c.max_position_embeddings, c.rms_norm_eps, c.rope_theta, c.tie_word_embeddings, c.attention_bias, c.bos_token_id, c.eos_token_id, c.hidden_act, c.model_type],
    [r.vocab_size, r.hidden_size, r.intermediate_size, r.num_hidden_layers, r.num_attention_heads, r.num_key_value_heads, r.head_dim,
      r.max_position_embeddings, r.rms_norm_eps, r.rope_parameters.rope_theta, r.tie_word_embeddings, r.attention_bias, r.bos_token_id, r.eos_token_id, r.hidden_act, r.model_type],
  );
  sameAsTransformers(ck, ref.state_sha256);
  for (const [name, values] of Object.entries(ref.qk as Record<string, number[]>))
    assert.deepEqual([...ck.tensors.get(name)!.data], values.map(Math.fround), name);
  assert.deepEqual(ck.tensors.get("model.layers.0.self_attn.k_proj.weight")!.shape, [2 * 4, 16]);
  assert.deepEqual(ck.tensors.get("model.layers.0.mlp.down_proj.weight")!.shape, [16, 24]);
  // the q/k conversion is not the identity on this file: without it the bytes differ
  const f = await openGguf(TINY);
  const raw = f.readTensor("blk.0.attn_q.weight").data;
  f.close();
  assert.notEqual(sha(raw), ref.state_sha256["model.layers.0.self_attn.q_proj.weight"]);
});

test("the lazy API reads nothing until asked and gives the same tensors", async () => {
  const whole = await load(TINY);
  const f = await openGguf(TINY);
  let reads = 0;
  const counted = { ...f, readTensor: (n: string) => { reads++; return f.readTensor(n); } };
  try {
    const { config, tensors } = ggufLlamaTensors(counted);
    assert.equal(reads, 0);
    assert.deepEqual(config, whole.config);
    assert.deepEqual(tensors.map((t) => t.name).sort(), [...whole.tensors.keys()].sort());
    for (const t of tensors) {
      assert.deepEqual(t.shape, whole.tensors.get(t.name)!.shape);
      assert.deepEqual(t.read(), whole.tensors.get(t.name)!.data, t.name);
    }
    assert.equal(reads, tensors.length);
  } finally {
    f.close();
  }
});

test("stories260K: every tensor equals transformers' GGUF load", async (t) => {
  if (!existsSync(STORIES)) return t.skip(`stories260K.gguf not found at ${STORIES} (the shared models folder is absent)`);
  const ref = JSON.parse(readFileSync(join(FIX, "stories260K-refs.json"), "utf8"));
  const fileSha = createHash("sha256").update(readFileSync(STORIES)).digest("hex");
  if (fileSha !== ref.file_sha256) return t.skip(`${STORIES} is not the file the references were made from (sha256 ${fileSha})`);
  const ck = await load(STORIES);
  assert.equal(ck.config.vocab_size, 512);
  assert.equal(ck.config.num_key_value_heads, 4);
  assert.equal(ck.config.tie_word_embeddings, false, "the file has its own output.weight");
  assert.equal(ck.config.pad_token_id, undefined, "0xFFFFFFFF means no pad token");
  sameAsTransformers(ck, ref.state_sha256);
  for (const [name, values] of Object.entries(ref.qk as Record<string, number[]>))
    assert.deepEqual([...ck.tensors.get(name)!.data], values.map(Math.fround), name);
});

// --- RoPE layout proof (float64) -------------------------------------------------------------------

type Rope = (v: Float64Array, heads: number, d: number, pos: number, theta: number) => Float64Array;
/** llama.cpp's RoPE: rotate interleaved pairs (2i, 2i+1) of each head. */
const ropeInterleaved: Rope = (v, heads, d, pos, theta) => {
  const o = new Float64Array(v);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < d / 2; i++) {
      const a = pos * theta ** (-(2 * i) / d), c = Math.cos(a), s = Math.sin(a);
      const x = v[h * d + 2 * i], y = v[h * d + 2 * i + 1];
      o[h * d + 2 * i] = x * c - y * s;
      o[h * d + 2 * i + 1] = x * s + y * c;
    }
  return o;
};
/** Hugging Face's RoPE: rotate (i, i + d/2) of each head. */
const ropeHalf: Rope = (v, heads, d, pos, theta) => {
  const o = new Float64Array(v);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < d / 2; i++) {
      const a = pos * theta ** (-(2 * i) / d), c = Math.cos(a), s = Math.sin(a);
      const x = v[h * d + i], y = v[h * d + i + d / 2];
      o[h * d + i] = x * c - y * s;
      o[h * d + i + d / 2] = x * s + y * c;
    }
  return o;
};
const matvec = (w: Float32Array, rows: number, x: Float64Array): Float64Array => {
  const cols = x.length, o = new Float64Array(rows);
  for (let r = 0; r < rows; r++) { let s = 0; for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c]; o[r] = s; }
  return o;
};
/** Attention scores q_h · k_{h/g} for every query head, with the given RoPE. */
const scores = (wq: Float32Array, wk: Float32Array, nh: number, nkv: number, d: number, theta: number, rope: Rope, xq: Float64Array, xk: Float64Array): number[] => {
  const q = rope(matvec(wq, nh * d, xq), nh, d, 7, theta);
  const k = rope(matvec(wk, nkv * d, xk), nkv, d, 3, theta);
  return Array.from({ length: nh }, (_, h) => {
    const kh = Math.floor(h / (nh / nkv));
    let s = 0;
    for (let i = 0; i < d; i++) s += q[h * d + i] * k[kh * d + i];
    return s;
  });
};

test("RoPE layout: interleaved RoPE on GGUF q/k gives the same attention scores as rotate-half on the converted q/k", async () => {
  const f = await openGguf(TINY);
  const ck = ggufToHfLlama(f);
  const { num_attention_heads: nh, num_key_value_heads: nkv, head_dim: d, rope_theta: theta, hidden_size: dm } = ck.config;
  let seed = 5;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 - 0.5; };
  const xq = Float64Array.from({ length: dm }, rand), xk = Float64Array.from({ length: dm }, rand);
  for (let l = 0; l < ck.config.num_hidden_layers; l++) {
    const gq = f.readTensor(`blk.${l}.attn_q.weight`).data, gk = f.readTensor(`blk.${l}.attn_k.weight`).data;
    const hq = ck.tensors.get(`model.layers.${l}.self_attn.q_proj.weight`)!.data, hk = ck.tensors.get(`model.layers.${l}.self_attn.k_proj.weight`)!.data;
    const want = scores(gq, gk, nh, nkv, d, theta, ropeInterleaved, xq, xk);
    const got = scores(hq, hk, nh, nkv, d, theta, ropeHalf, xq, xk);
    for (let h = 0; h < nh; h++) assert.ok(Math.abs(got[h] - want[h]) <= 1e-12 * (1 + Math.abs(want[h])), `layer ${l} head ${h}: ${got[h]} vs ${want[h]}`);
    // and the test can fail: rotate-half on the unconverted weights gives other scores
    const wrong = scores(gq, gk, nh, nkv, d, theta, ropeHalf, xq, xk);
    assert.ok(wrong.some((s, h) => Math.abs(s - want[h]) > 1e-3), "rotate-half on GGUF's layout should not match");
  }
  f.close();
});

test("unpermuteRope moves GGUF row h·d + 2i + j to h·d + j·d/2 + i", () => {
  // 2 heads of d = 4, one column: GGUF rows are (h, i, j) in that order
  const g = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]); // value = 10h + 2i + j
  assert.deepEqual([...unpermuteRope(g, 2, 1)], [0, 2, 1, 3, 10, 12, 11, 13]);
  // two columns move together
  const g2 = Float32Array.from([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
  assert.deepEqual([...unpermuteRope(g2, 1, 2)], [0, 0.5, 2, 2.5, 1, 1.5, 3, 3.5]);
  assert.throws(() => unpermuteRope(new Float32Array(6), 2, 1), RangeError);
});

test("tensor names map both ways", () => {
  const pairs: [string, string][] = [
    ["token_embd.weight", "model.embed_tokens.weight"],
    ["output_norm.weight", "model.norm.weight"],
    ["output.weight", "lm_head.weight"],
    ["blk.3.attn_norm.weight", "model.layers.3.input_layernorm.weight"],
    ["blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"],
    ["blk.0.attn_q.bias", "model.layers.0.self_attn.q_proj.bias"],
    ["blk.12.attn_k.weight", "model.layers.12.self_attn.k_proj.weight"],
    ["blk.1.attn_v.weight", "model.layers.1.self_attn.v_proj.weight"],
    ["blk.1.attn_output.weight", "model.layers.1.self_attn.o_proj.weight"],
    ["blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"],
    ["blk.1.ffn_gate.weight", "model.layers.1.mlp.gate_proj.weight"],
    ["blk.1.ffn_up.weight", "model.layers.1.mlp.up_proj.weight"],
    ["blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"],
  ];
  for (const [g, h] of pairs) { assert.equal(hfLlamaName(g), h); assert.equal(ggufLlamaName(h), g); }
  assert.equal(hfLlamaName("rope_freqs.weight"), undefined);
  assert.equal(hfLlamaName("blk.0.ffn_gate_exps.weight"), undefined);
});

// --- files that are not a loadable Llama -----------------------------------------------------------

const tiny = readFileSync(TINY);
/** Byte offset of a metadata key's value (after its u32 type). */
const valueAt = (key: string): number => {
  const i = tiny.indexOf(Buffer.from(key, "utf8"));
  assert.ok(i > 0, key);
  return i + Buffer.byteLength(key) + 4;
};
const patched = (name: string, edit: (b: Buffer) => void): string => {
  const b = Buffer.from(tiny);
  edit(b);
  const p = join(tmp, name);
  writeFileSync(p, b);
  return p;
};
const fails = async (path: string, re: RegExp, where: { tensor?: string; field?: string }) => {
  const f = await openGguf(path);
  try {
    assert.throws(() => ggufToHfLlama(f), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${e}`);
      assert.match(e.message, re);
      assert.ok(e.message.startsWith(path));
      if (where.tensor) assert.equal(e.tensor, where.tensor);
      if (where.field) assert.equal(e.field, where.field);
      return true;
    });
  } finally {
    f.close();
  }
};

test("unsupported architecture", async () => {
  const p = patched("arch.gguf", (b) => b.write("gpt2x", valueAt("general.architecture") + 8, "latin1"));
  await fails(p, /architecture "gpt2x" is not supported by the GGUF Llama loader \(supported: "llama"\)/, { field: "general.architecture" });
});

test("missing metadata field", async () => {
  const p = patched("nofield.gguf", (b) => b.write("llama.embedding_lengtX", tiny.indexOf(Buffer.from("llama.embedding_length")), "latin1"));
  await fails(p, /metadata llama\.embedding_length is missing; a Llama GGUF needs it/, { field: "llama.embedding_length" });
});

test("missing tensor", async () => {
  const p = patched("layers.gguf", (b) => b.writeUInt32LE(3, valueAt("llama.block_count")));
  await fails(p, /lacks model\.layers\.2\.\S+ \(GGUF tensor blk\.2\.\S+\); the file is incomplete/, {});
});

test("shape that disagrees with the metadata", async () => {
  const p = patched("ff.gguf", (b) => b.writeUInt32LE(25, valueAt("llama.feed_forward_length")));
  await fails(p, /tensor "blk\.0\.ffn_gate\.weight" has row-major shape \[24, 16\] but the metadata implies \[25, 16\]/, { tensor: "blk.0.ffn_gate.weight" });
});

test("a tensor outside the Llama layout", async () => {
  const p = patched("name.gguf", (b) => b.write("blk.1.ffn_zz.weight", b.indexOf(Buffer.from("blk.1.ffn_up.weight")), "latin1"));
  await fails(p, /tensor "blk\.1\.ffn_zz\.weight" is not part of a 2-layer Llama/, { tensor: "blk.1.ffn_zz.weight" });
});

test("RoPE scaling is refused, naming the field", async () => {
  const f = await openGguf(TINY);
  f.close();
  assert.throws(() => ggufLlamaConfig({ ...f, metadata: { ...f.metadata, "llama.rope.scaling.type": "linear" } }),
    (e: unknown) => e instanceof ModelFormatError && e.field === "llama.rope.scaling.type" && /RoPE scaling "linear" is not supported/.test(e.message));
  assert.equal(ggufLlamaConfig({ ...f, metadata: { ...f.metadata, "llama.rope.scaling.type": "none" } }).rope_theta, 500);
});
