// Canonical JSON (sorted keys, no undefined) and sha256: the byte encoding behind every digest and key.
import { createHash } from "node:crypto";

export const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** JSON with object keys sorted at every depth; rejects values JSON cannot round-trip. */
export const canonicalJson = (value: unknown): string => {
  const walk = (v: unknown, path: string): string => {
    if (v === null) return "null";
    switch (typeof v) {
      case "number":
        if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: non-finite number ${v} at ${path || "<root>"}`);
        return JSON.stringify(v);
      case "string":
      case "boolean":
        return JSON.stringify(v);
      case "object": {
        if (Array.isArray(v)) return `[${v.map((x, i) => walk(x, `${path}[${i}]`)).join(",")}]`;
        const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
        return `{${keys.map((k) => `${JSON.stringify(k)}:${walk((v as Record<string, unknown>)[k], `${path}.${k}`)}`).join(",")}}`;
      }
      default:
        throw new TypeError(`canonicalJson: cannot encode ${typeof v} at ${path || "<root>"}`);
    }
  };
  return walk(value, "");
};

export const digestOf = (value: unknown): string => sha256(canonicalJson(value));
