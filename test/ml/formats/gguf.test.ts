// GGUF reader against the `gguf` Python package (fixtures by scripts/fixtures/gguf_tokenizers.py):
// metadata of every value type, tensor infos, and F32/F16/Q8_0/Q4_0/Q4_1 dequantisation, plus the
// typed errors for damaged files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelFormatError } from "../../../ml/errors.ts";
import { GGUF_VALUE_TYPES, dequantize, openGguf, readGguf } from "../../../ml/formats/gguf.ts";

const FIX = new URL("../../fixtures/pretrained/", import.meta.url).pathname;
const QUANT = join(FIX, "quant.gguf");
const ref = JSON.parse(readFileSync(join(FIX, "quant.json"), "utf8")) as {
  metadata: Record<string, { type: string; value: unknown }>;
  tensors: { name: string; shape: number[]; ne: number[]; type: number; offset: number; count: number }[];
};
const refBin = readFileSync(join(FIX, "quant.f32.bin"));
const refValues = new Float32Array(refBin.buffer.slice(refBin.byteOffset, refBin.byteOffset + refBin.byteLength));
const tmp = mkdtempSync(join(tmpdir(), "acft-gguf-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test("every tensor dequantises bit-identically to gguf.quants.dequantize", async () => {
  const f = await openGguf(QUANT);
  try {
    assert.equal(f.tensorInfos.length, ref.tensors.length);
    const seen = new Set<number>();
    for (const t of ref.tensors) {
      const got = f.readTensor(t.name);
      assert.deepEqual(got.shape, t.shape, t.name);
      assert.deepEqual(got.ne, t.ne, t.name);
      assert.equal(got.type, t.type, t.name);
      const want = refValues.subarray(t.offset, t.offset + t.count);
      assert.equal(got.data.length, t.count);
      let diffs = 0;
      for (let i = 0; i < t.count; i++) if (!Object.is(got.data[i], want[i])) diffs++;
      assert.equal(diffs, 0, `${t.name}: ${diffs} of ${t.count} values differ from the gguf package`);
      // the fixture has distinct, non-trivial values (several blocks with their own scales)
      assert.ok(new Set(want).size > t.count / 8, `${t.name} has too few distinct values to prove anything`);
      seen.add(t.type);
    }
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 8], "F32, F16, Q4_0, Q4_1, Q8_0 are all covered");
  } finally {
    f.close();
  }
});

test("metadata of every GGUF value type round-trips", async () => {
  const f = await openGguf(QUANT);
  f.close();
  assert.equal(f.version, 3);
  assert.equal(f.alignment, 32);
  assert.equal(f.dataOffset % 32, 0);
  for (const [key, { type, value }] of Object.entries(ref.metadata)) {
    const got = f.metadata[key];
    if (type === "float32") assert.equal(got, Math.fround(value as number), key);
    else if (type === "array[float]") assert.deepEqual(got, (value as number[]).map(Math.fround), key);
    else assert.deepEqual(got, value, key);
  }
  const T = GGUF_VALUE_TYPES;
  assert.deepEqual(f.metadataTypes["test.u8"], { type: T.UINT8 });
  assert.deepEqual(f.metadataTypes["test.i64"], { type: T.INT64 });
  assert.deepEqual(f.metadataTypes["test.f64"], { type: T.FLOAT64 });
  assert.deepEqual(f.metadataTypes["test.arr.str"], { type: T.ARRAY, subType: T.STRING });
  assert.deepEqual(f.metadataTypes["test.arr.nested"], { type: T.ARRAY, subType: T.ARRAY });
  assert.equal(f.metadata["general.architecture"], "llama");
});

test("readGguf returns every tensor; infos carry offsets inside the file", async () => {
  const { metadata, tensors } = await readGguf(QUANT);
  assert.equal(metadata["test.string"], "héllo wörld ✓ 中文");
  assert.deepEqual([...tensors.keys()], ref.tensors.map((t) => t.name));
  const f = await openGguf(QUANT);
  f.close();
  for (const t of f.tensorInfos) {
    assert.ok(t.offset >= f.dataOffset && t.offset + t.byteLength <= f.fileSize);
    assert.equal((t.offset - f.dataOffset) % f.alignment, 0);
  }
  assert.equal(f.info("q8_0").byteLength, 3 * 3 * 34);
  assert.equal(f.info("q4_1.wide").byteLength, 2 * 5 * 20);
});

test("a file with general.alignment = 64 is read at 64-byte offsets", async () => {
  const f = await openGguf(join(FIX, "quant-align64.gguf"));
  try {
    assert.equal(f.alignment, 64);
    assert.equal(f.metadata["general.alignment"], 64);
    assert.equal(f.dataOffset % 64, 0);
    assert.deepEqual(f.tensorInfos.map((t) => t.name), ["f16.odd", "q8_0"]);
    for (const t of f.tensorInfos) {
      assert.equal((t.offset - f.dataOffset) % 64, 0);
      const r = ref.tensors.find((x) => x.name === t.name)!;
      assert.deepEqual(f.readTensor(t.name).data, refValues.slice(r.offset, r.offset + r.count), t.name);
    }
    // the first tensor has 90 bytes: the second starts 128 bytes later (64-aligned), not 96 (32-aligned)
    assert.equal(f.tensorInfos[0].byteLength, 90);
    assert.equal(f.tensorInfos[1].offset - f.tensorInfos[0].offset, 128);
  } finally {
    f.close();
  }
});

test("dequantize: hand-made blocks follow ggml's formulas", () => {
  // Q8_0 block: d = 0.5 (f16 0x3800), q = -3..28
  const q8 = new Uint8Array(34);
  new DataView(q8.buffer).setUint16(0, 0x3800, true);
  for (let j = 0; j < 32; j++) q8[2 + j] = (j - 3) & 0xff;
  assert.deepEqual([...dequantize(8, q8, 32)], Array.from({ length: 32 }, (_, j) => 0.5 * (j - 3)));
  // Q4_0: byte j holds value j (low nibble) and j+16 (high nibble), x = d (q - 8); d = 2 (0x4000)
  const q40 = new Uint8Array(18);
  new DataView(q40.buffer).setUint16(0, 0x4000, true);
  for (let j = 0; j < 16; j++) q40[2 + j] = j | ((15 - j) << 4);
  const want40 = [...Array.from({ length: 16 }, (_, j) => 2 * (j - 8)), ...Array.from({ length: 16 }, (_, j) => 2 * (15 - j - 8))];
  assert.deepEqual([...dequantize(2, q40, 32)], want40);
  // Q4_1: x = d q + m; d = 0.25 (0x3400), m = -1 (0xbc00)
  const q41 = new Uint8Array(20);
  new DataView(q41.buffer).setUint16(0, 0x3400, true);
  new DataView(q41.buffer).setUint16(2, 0xbc00, true);
  for (let j = 0; j < 16; j++) q41[4 + j] = j | (j << 4);
  assert.deepEqual([...dequantize(3, q41, 32)], [...Array.from({ length: 16 }, (_, j) => 0.25 * j - 1), ...Array.from({ length: 16 }, (_, j) => 0.25 * j - 1)]);
  // F16 specials: subnormal, -0, inf, nan, max
  const f16 = new Uint8Array(10);
  [0x0001, 0x8000, 0x7c00, 0x7e00, 0x7bff].forEach((h, i) => new DataView(f16.buffer).setUint16(2 * i, h, true));
  const h = dequantize(1, f16, 5);
  assert.equal(h[0], 2 ** -24);
  assert.ok(Object.is(h[1], -0));
  assert.equal(h[2], Infinity);
  assert.ok(Number.isNaN(h[3]));
  assert.equal(h[4], 65504);
});

// --- damaged files ---------------------------------------------------------------------------------

const bytes = readFileSync(QUANT);
const write = (name: string, b: Uint8Array): string => { const p = join(tmp, name); writeFileSync(p, b); return p; };
const rejects = async (path: string, re: RegExp, where: { tensor?: string; field?: string } = {}) => {
  await assert.rejects(openGguf(path), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${e}`);
    assert.equal(e.file, path);
    assert.match(e.message, re);
    assert.ok(e.message.includes(path), "the message names the file");
    if (where.tensor) assert.equal(e.tensor, where.tensor);
    if (where.field) assert.equal(e.field, where.field);
    return true;
  });
};
/** Offset of the tensor-info record of `name` (its u64 name length) in the fixture. */
const infoAt = (name: string): number => {
  const i = bytes.indexOf(Buffer.from(name, "utf8"), 24 + 100);
  assert.ok(i > 0);
  return i - 8;
};

test("bad magic", async () => {
  const b = Buffer.from(bytes);
  b.write("GGML", 0, "latin1");
  await rejects(write("magic.gguf", b), /not a GGUF file: it starts with "GGML", expected "GGUF"/, { field: "magic" });
  await rejects(write("empty.gguf", new Uint8Array(3)), /too short for a GGUF header/);
  await rejects(join(tmp, "missing.gguf"), /cannot open the GGUF file .*check the path/);
});

test("unsupported version", async () => {
  const b = Buffer.from(bytes);
  b.writeUInt32LE(1, 4);
  await rejects(write("v1.gguf", b), /GGUF version 1 is not supported \(this reader reads versions 2 and 3/, { field: "version" });
  b.writeUInt32LE(7, 4);
  await rejects(write("v7.gguf", b), /GGUF version 7 is not supported/, { field: "version" });
});

test("unsupported quantisation type names the tensor and the supported types", async () => {
  const b = Buffer.from(bytes);
  const at = infoAt("q4_0");
  const nDims = b.readUInt32LE(at + 8 + 4);
  b.writeUInt32LE(12, at + 8 + 4 + 4 + 8 * nDims); // Q4_K
  await rejects(write("q4k.gguf", b), /tensor "q4_0" is of ggml type Q4_K, which this reader does not dequantise \(supported: F32, F16, Q4_0, Q4_1, Q8_0\)/, { tensor: "q4_0", field: "type" });
});

test("truncated file: in the header, and in tensor data", async () => {
  const f = await openGguf(QUANT);
  f.close();
  await rejects(write("cut-header.gguf", bytes.subarray(0, 300)), /the file is truncated/);
  const last = f.tensorInfos[f.tensorInfos.length - 1];
  await rejects(write("cut-data.gguf", bytes.subarray(0, last.offset + 10)), new RegExp(`tensor "${last.name.replace(".", "\\.")}" \\(Q4_1, ne \\[160, 2\\]\\) needs bytes .* the file is truncated`), { tensor: last.name });
});

test("tensor data out of bounds, and misaligned", async () => {
  const b = Buffer.from(bytes);
  const at = infoAt("f16.odd");
  const nDims = b.readUInt32LE(at + 8 + 7);
  const offAt = at + 8 + 7 + 4 + 8 * nDims + 4;
  b.writeBigUInt64LE(BigInt(1 << 20), offAt);
  await rejects(write("oob.gguf", b), /tensor "f16\.odd" \(F16, ne \[9, 5\]\) needs bytes \d+\.\.\d+ but the file has \d+/, { tensor: "f16.odd", field: "offset" });
  b.writeBigUInt64LE(BigInt(33), offAt);
  await rejects(write("misaligned.gguf", b), /tensor "f16\.odd" starts at data offset 33, not a multiple of the alignment 32/, { tensor: "f16.odd" });
});

test("asking for a tensor that is not there lists the ones that are", async () => {
  const f = await openGguf(QUANT);
  try {
    assert.throws(() => f.readTensor("nope"), (e: unknown) => e instanceof ModelFormatError && e.tensor === "nope" && /has no tensor "nope" \(it has \["f32\.odd"/.test(e.message));
  } finally {
    f.close();
  }
  assert.throws(() => f.readTensor("q8_0"), /after close\(\)/);
});
