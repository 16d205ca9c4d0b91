// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
//   { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ..., "__metadata__": {..} }
// then the tensor bytes, row-major little-endian, offsets relative to the end of the header.
// Reading decodes F32, F16, BF16 (and F64) to float32; writing stores F32 with the header padded
// to 8 bytes. No npm package reads the format offline, and it is this small.
import { readFile, rename, writeFile } from "node:fs/promises";
import { endianness } from "node:os";
import { ModelFormatError } from "../errors.ts";

/** A float32 tensor by shape (row-major). The neutral tensor type of the model loaders. */
export interface HostTensor { shape: number[]; data: Float32Array }

/** One entry of a safetensors header, with its raw bytes (not yet decoded). */
export interface RawTensor { dtype: string; shape: number[]; bytes: Uint8Array }

export const SUPPORTED_DTYPES = ["F32", "F16", "BF16", "F64"] as const;

if (endianness() !== "LE") throw new Error("acft's safetensors reader assumes a little-endian machine");

const cut = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}...` : s);
const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Parse a safetensors buffer into raw tensors by name (bytes are views into `buf`). */
export const parseSafetensors = (buf: Uint8Array, file: string): Map<string, RawTensor> => {
  const bad = (message: string, tensor?: string) =>
    new ModelFormatError({ file, tensor, message: `${file}: ${message}; the file is not a valid safetensors file (re-download or re-export it)` });
  if (buf.length < 8) throw bad(`only ${buf.length} bytes`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > buf.length - 8) throw bad(`header length ${n} exceeds the file size ${buf.length}`);
  let header: Record<string, { dtype?: unknown; shape?: unknown; data_offsets?: unknown }>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(`header is not JSON (${cut((e as Error).message)})`);
  }
  const start = 8 + n;
  const out = new Map<string, RawTensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: off } = e;
    if (typeof dtype !== "string" || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)
      || !Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d)))
      throw bad(`header entry "${cut(name)}" is malformed (${cut(JSON.stringify(e))})`, name);
    const [b, en] = off as number[];
    if (b > en || start + en > buf.length) throw bad(`tensor "${cut(name)}" lies outside the file (offsets ${b}..${en})`, name);
    const size = (shape as number[]).reduce((a, d) => a * d, 1);
    if (BYTES[dtype] !== undefined && en - b !== size * BYTES[dtype])
      throw bad(`tensor "${cut(name)}" has ${en - b} bytes, but ${dtype} [${shape}] needs ${size * BYTES[dtype]}`, name);
    out.set(name, { dtype, shape: shape as number[], bytes: buf.subarray(start + b, start + en) });
  }
  return out;
};

/** IEEE half -> float. */
const halfToFloat = (h: number): number => {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
};
let halfTable: Float32Array | undefined;

/** Decode a raw tensor to float32; an unsupported dtype is a ModelFormatError naming it. */
export const decodeTensor = (t: RawTensor, name: string, file: string): HostTensor => {
  const n = t.shape.reduce((a, d) => a * d, 1);
  const { bytes } = t;
  const aligned = (k: number) => bytes.byteOffset % k === 0;
  const copy = (k: number) => (aligned(k) ? bytes : bytes.slice());
  switch (t.dtype) {
    case "F32": {
      const b = copy(4);
      return { shape: t.shape, data: new Float32Array(b.buffer, b.byteOffset, n) };
    }
    case "F64": {
      const b = copy(8);
      return { shape: t.shape, data: Float32Array.from(new Float64Array(b.buffer, b.byteOffset, n)) };
    }
    case "F16": {
      halfTable ??= Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h));
      const b = copy(2);
      const h = new Uint16Array(b.buffer, b.byteOffset, n);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = halfTable[h[i]];
      return { shape: t.shape, data };
    }
    case "BF16": { // the high 16 bits of a float32
      const b = copy(2);
      const h = new Uint16Array(b.buffer, b.byteOffset, n);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = h[i] << 16;
      return { shape: t.shape, data: new Float32Array(bits.buffer) };
    }
    default:
      throw new ModelFormatError({ file, tensor: name,
        message: `${file}: tensor "${cut(name)}" has dtype ${cut(t.dtype)}; acft reads ${SUPPORTED_DTYPES.join(", ")}: convert the checkpoint (e.g. save it with torch_dtype=float32 or bfloat16)` });
  }
};

/** Read a safetensors file: raw tensors by name (decode them with decodeTensor). */
export const readSafetensors = async (file: string): Promise<Map<string, RawTensor>> => {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new ModelFormatError({ file, message: `cannot read ${file} (${cut((e as Error).message)}); check the path` });
  }
  return parseSafetensors(buf, file);
};

/** Read a safetensors file and decode every tensor to float32. */
export const readSafetensorsFloat32 = async (file: string): Promise<Map<string, HostTensor>> => {
  const out = new Map<string, HostTensor>();
  for (const [name, raw] of await readSafetensors(file)) out.set(name, decodeTensor(raw, name, file));
  return out;
};

/** Encode float32 tensors as safetensors bytes (F32; names in the given order). */
export const encodeSafetensors = (tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array => {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.shape.reduce((a, d) => a * d, 1);
    if (size !== t.data.length) throw new RangeError(`encodeSafetensors: "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // tensor data 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
};

/** Write float32 tensors to a safetensors file (via a temporary name, then renamed). */
export const writeSafetensors = async (file: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Promise<void> => {
  await writeFile(`${file}.tmp`, encodeSafetensors(tensors, metadata));
  await rename(`${file}.tmp`, file);
};
