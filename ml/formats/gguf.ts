// GGUF reader (the ggml project's single-file checkpoint format, version 2 and 3, little-endian).
// Layout: "GGUF" magic, u32 version, u64 tensor count, u64 metadata count, metadata key/values
// (typed scalars, strings, arrays), tensor infos (name, n_dims, ne[n_dims], ggml type, offset
// relative to the data section), padding to `general.alignment` (default 32), tensor data.
// The header, metadata and tensor infos are parsed by `@huggingface/gguf` (it reads local files
// with no network); this module checks what it returns against the file (magic, version, size,
// bounds, types) and reads and dequantises tensor data itself, one tensor at a time, so a large
// file is never held twice. (The package is imported on first use: it costs ~0.15 s to load, which
// every acft process would pay otherwise.)
//
// Dimension order: GGUF lists `ne` fastest-varying first (ne[0] is the row length). The row-major
// shape is `ne` reversed: a GGUF [in, out] matrix is the row-major [out, in] matrix that
// PyTorch/Hugging Face store, with the same bytes.
//
// Supported tensor types and their blocks (32 values per block for the quantised ones):
//   F32  (0)  4-byte floats                  F16  (1)  IEEE half floats
//   Q4_0 (2)  f16 d, 16 bytes of nibbles:    x = d·(q − 8)
//   Q4_1 (3)  f16 d, f16 m, 16 bytes:        x = d·q + m
//   Q8_0 (8)  f16 d, 32 signed bytes:        x = d·q
// In the nibble blocks byte j holds value j in its low nibble and value j+16 in its high nibble.
// Dequantisation computes d·q in float32 then adds m in float32, as ggml and the `gguf` Python
// package do, so results are bit-identical to theirs.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { ModelFormatError } from "../errors.ts";
import { quote } from "./errors.ts";

export const GGUF_SUPPORTED_VERSIONS = [2, 3] as const;

/** ggml tensor type ids this reader dequantises. */
export const GGML_TYPES = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 8 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPES;

/** Values per block and bytes per block of each supported type. */
const BLOCK: Record<number, { name: GgmlTypeName; values: number; bytes: number }> = {
  0: { name: "F32", values: 1, bytes: 4 },
  1: { name: "F16", values: 1, bytes: 2 },
  2: { name: "Q4_0", values: 32, bytes: 2 + 16 },
  3: { name: "Q4_1", values: 32, bytes: 2 + 2 + 16 },
  8: { name: "Q8_0", values: 32, bytes: 2 + 32 },
};
/** Names of the other ggml types, for error messages only. */
const OTHER_TYPES: Record<number, string> = {
  6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
  16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
  24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16",
};
const SUPPORTED_LIST = Object.keys(GGML_TYPES).join(", ");
export const ggmlTypeName = (t: number): string => BLOCK[t]?.name ?? OTHER_TYPES[t] ?? `type ${t}`;

/** One tensor's header entry. */
export interface GgufTensorInfo {
  readonly name: string;
  /** Dimensions in GGUF's order (ne[0] fastest-varying). */
  readonly ne: readonly number[];
  /** Row-major shape (ne reversed), as PyTorch / numpy see it. */
  readonly shape: readonly number[];
  /** ggml type id and name. */
  readonly type: number;
  readonly typeName: string;
  /** Absolute byte offset of the tensor's data in the file, and its byte length. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GgufTensor {
  readonly ne: readonly number[];
  readonly shape: readonly number[];
  readonly type: number;
  readonly typeName: string;
  readonly data: Float32Array;
}

/** Metadata value types as GGUF numbers them (for `metadataTypes`). */
export const GGUF_VALUE_TYPES = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;

/** An opened GGUF file: header parsed, tensor data read on demand. Call `close()` when done. */
export interface GgufFile {
  readonly path: string;
  readonly version: number;
  /**
   * Metadata key -> value. Integers are numbers (64-bit ones too, when they fit in a double
   * exactly; otherwise bigint), strings are strings, arrays are arrays of the same.
   */
  readonly metadata: Record<string, unknown>;
  /** Metadata key -> its GGUF value type (and the element type of an array). */
  readonly metadataTypes: Record<string, { type: number; subType?: number }>;
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
  readonly fileSize: number;
  readonly tensorInfos: readonly GgufTensorInfo[];
  /** Tensor info by name (or a typed error naming the tensors that exist). */
  info(name: string): GgufTensorInfo;
  /** Read and dequantise one tensor to float32. */
  readTensor(name: string): GgufTensor;
  close(): void;
}

const fail = (path: string, message: string, where: { tensor?: string; field?: string } = {}): never => {
  throw new ModelFormatError({ file: path, ...where, message: `${path}: ${message}` });
};

const toNumber = (v: unknown): unknown => {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(toNumber);
  return v;
};

const readBytes = (fd: number, position: number, length: number): Buffer => {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
};

/**
 * Open a GGUF file: check magic and version, parse metadata and tensor infos, and check that every
 * tensor is of a supported type, aligned, and inside the file. Tensor data is read by `readTensor`.
 */
export const openGguf = async (path: string): Promise<GgufFile> => {
  let fd: number;
  try { fd = openSync(path, "r"); }
  catch (e) { return fail(path, `cannot open the GGUF file (${(e as Error).message.slice(0, 200)}); check the path`); }
  try {
    const fileSize = fstatSync(fd).size;
    const head = readBytes(fd, 0, 8);
    if (head.length < 8) fail(path, `file is ${fileSize} bytes, too short for a GGUF header; the file is truncated or not GGUF`, { field: "magic" });
    if (head.toString("latin1", 0, 4) !== "GGUF")
      fail(path, `not a GGUF file: it starts with ${quote(head.toString("latin1", 0, 4))}, expected "GGUF"; pass a .gguf file`, { field: "magic" });
    const version = head.readUInt32LE(4);
    if (!(GGUF_SUPPORTED_VERSIONS as readonly number[]).includes(version))
      fail(path, `GGUF version ${version} is not supported (this reader reads versions ${GGUF_SUPPORTED_VERSIONS.join(" and ")}, little-endian); convert the file with a current llama.cpp`, { field: "version" });
    const { gguf: parseGgufHeader } = await import("@huggingface/gguf");
    let parsed: Awaited<ReturnType<typeof parseGgufHeader>> & { typedMetadata: Record<string, { type: number; subType?: number }> };
    try { parsed = await parseGgufHeader(path, { allowLocalFile: true, typedMetadata: true }) as typeof parsed; }
    catch (e) { return fail(path, `cannot parse the GGUF header (${(e as Error).message.slice(0, 200)}); the file is corrupt or truncated`); }
    // The parser pads reads past the end of the file with zeros: a header that ends beyond the
    // file means the file was cut short.
    const headerEnd = Number(parsed.tensorInfoByteRange[1]);
    if (headerEnd > fileSize)
      fail(path, `the header needs ${headerEnd} bytes but the file has ${fileSize}; the file is truncated (download it again)`);
    const metadata: Record<string, unknown> = {};
    const metadataTypes: Record<string, { type: number; subType?: number }> = {};
    for (const [k, v] of Object.entries(parsed.metadata)) {
      if (k === "version" || k === "tensor_count" || k === "kv_count") continue;
      metadata[k] = toNumber(v);
      const t = parsed.typedMetadata[k];
      metadataTypes[k] = t.subType === undefined ? { type: t.type } : { type: t.type, subType: t.subType };
    }
    const alignment = Number(metadata["general.alignment"] ?? 32);
    const dataOffset = Number(parsed.tensorDataOffset);
    const tensorInfos: GgufTensorInfo[] = parsed.tensorInfos.map((t) => {
      const ne = t.shape.map(Number);
      const typeInfo = BLOCK[t.dtype];
      if (!typeInfo)
        fail(path, `tensor ${quote(t.name)} is of ggml type ${ggmlTypeName(t.dtype)}, which this reader does not dequantise (supported: ${SUPPORTED_LIST}); re-quantise the model to one of those (e.g. llama.cpp's llama-quantize ... Q8_0)`, { tensor: t.name, field: "type" });
      const count = ne.reduce((a, b) => a * b, 1);
      if (ne[0] % typeInfo.values !== 0)
        fail(path, `tensor ${quote(t.name)} has rows of ${ne[0]} values, not a multiple of the ${typeInfo.name} block size ${typeInfo.values}; the file is corrupt`, { tensor: t.name, field: "ne" });
      const rel = Number(t.offset);
      if (rel % alignment !== 0)
        fail(path, `tensor ${quote(t.name)} starts at data offset ${rel}, not a multiple of the alignment ${alignment}; the file is corrupt`, { tensor: t.name, field: "offset" });
      const offset = dataOffset + rel;
      const byteLength = (count / typeInfo.values) * typeInfo.bytes;
      if (offset + byteLength > fileSize)
        fail(path, `tensor ${quote(t.name)} (${typeInfo.name}, ne [${ne.join(", ")}]) needs bytes ${offset}..${offset + byteLength} but the file has ${fileSize}; the file is truncated or its tensor table is wrong (download it again)`, { tensor: t.name, field: "offset" });
      return { name: t.name, ne, shape: [...ne].reverse(), type: t.dtype, typeName: typeInfo.name, offset, byteLength };
    });
    const byName = new Map(tensorInfos.map((t) => [t.name, t]));
    let open = true;
    const info = (name: string): GgufTensorInfo =>
      byName.get(name) ?? fail(path, `has no tensor ${quote(name)} (it has ${quote(tensorInfos.map((t) => t.name))})`, { tensor: name });
    return {
      path, version, metadata, metadataTypes, alignment, dataOffset, fileSize, tensorInfos, info,
      readTensor: (name) => {
        const t = info(name);
        if (!open) fail(path, `readTensor(${quote(name)}) after close()`, { tensor: name });
        const bytes = readBytes(fd, t.offset, t.byteLength);
        if (bytes.length !== t.byteLength) fail(path, `tensor ${quote(name)}: read ${bytes.length} of ${t.byteLength} bytes; the file changed or is truncated`, { tensor: name });
        return { ne: t.ne, shape: t.shape, type: t.type, typeName: t.typeName, data: dequantize(t.type, bytes, t.ne.reduce((a, b) => a * b, 1)) };
      },
      close: () => { if (open) { open = false; closeSync(fd); } },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
};

/** Read a whole GGUF file: metadata and every tensor dequantised to float32. */
export const readGguf = async (path: string): Promise<{ metadata: Record<string, unknown>; tensors: Map<string, GgufTensor> }> => {
  const f = await openGguf(path);
  try {
    return { metadata: f.metadata, tensors: new Map(f.tensorInfos.map((t) => [t.name, f.readTensor(t.name)])) };
  } finally {
    f.close();
  }
};

// --- dequantisation -------------------------------------------------------------------------

let halfTable: Float32Array | undefined;
/** All 65536 half-precision values as float32 (exact: every half is a float32). */
const halves = (): Float32Array => {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    t[h] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1024 + frac) * 2 ** (exp - 25);
  }
  return (halfTable = t);
};

/** Dequantise `n` values of ggml type `type` from `bytes` (little-endian blocks). */
export const dequantize = (type: number, bytes: Uint8Array, n: number): Float32Array => {
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = halves();
  switch (type) {
    case 0:
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case 1:
      for (let i = 0; i < n; i++) out[i] = h[dv.getUint16(2 * i, true)];
      return out;
    case 2: // Q4_0
      for (let b = 0, o = 0; o < n; b += 18, o += 32) {
        const d = h[dv.getUint16(b, true)];
        for (let j = 0; j < 16; j++) {
          const q = bytes[b + 2 + j];
          out[o + j] = d * ((q & 0xf) - 8);
          out[o + j + 16] = d * ((q >> 4) - 8);
        }
      }
      return out;
    case 3: // Q4_1: d·q rounded to float32, then + m rounded to float32
      for (let b = 0, o = 0; o < n; b += 20, o += 32) {
        const d = h[dv.getUint16(b, true)];
        const m = h[dv.getUint16(b + 2, true)];
        for (let j = 0; j < 16; j++) {
          const q = bytes[b + 4 + j];
          out[o + j] = Math.fround(d * (q & 0xf)) + m;
          out[o + j + 16] = Math.fround(d * (q >> 4)) + m;
        }
      }
      return out;
    case 8: // Q8_0
      for (let b = 0, o = 0; o < n; b += 34, o += 32) {
        const d = h[dv.getUint16(b, true)];
        for (let j = 0; j < 32; j++) out[o + j] = d * dv.getInt8(b + 2 + j);
      }
      return out;
    default:
      throw new ModelFormatError({ file: "", field: "type", message: `ggml type ${ggmlTypeName(type)} is not supported (supported: ${SUPPORTED_LIST})` });
  }
};
