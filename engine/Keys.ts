// Cache keys: sha256 over the canonical encoding of their parts, and the explanation of a changed key.
import { Either, Schema } from "effect";
import { digestOf } from "./Canonical.ts";
import { fingerprint } from "./Fingerprint.ts";
import type { AnyStage } from "./Stage.ts";

export interface KeyParts {
  readonly stage: string;
  readonly version: number | string;
  /** `{ "<source file>": sha256 }` of the stage module and its local imports. */
  readonly code: Readonly<Record<string, string>>;
  /** Encoded params, defaults filled in. */
  readonly params: Readonly<Record<string, unknown>>;
  /** `{ "<input name>": "<content digest of the upstream output>" }`. */
  readonly inputs: Readonly<Record<string, string>>;
}

/** The on-disk form of key parts (`cache.key_parts`, `executions.key_parts`). */
export const KeyPartsSchema = Schema.Struct({
  stage: Schema.String,
  version: Schema.Union(Schema.Number, Schema.String),
  code: Schema.Record({ key: Schema.String, value: Schema.String }),
  params: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  inputs: Schema.Record({ key: Schema.String, value: Schema.String }),
});

/** Parse stored key parts; undefined when they are not in the current format (then nothing is compared). */
export const readKeyParts = (json: string): KeyParts | undefined => {
  const r = Schema.decodeUnknownEither(Schema.parseJson(KeyPartsSchema))(json);
  return Either.isRight(r) ? r.right : undefined;
};

export const keyOf = (parts: KeyParts): string => digestOf(parts);

/** Fingerprints memoized per module for the life of one planner/runner. */
export const codeOf = (memo: Map<string, Record<string, string>>, stage: AnyStage): Record<string, string> => {
  let fp = memo.get(stage.module);
  if (fp === undefined) memo.set(stage.module, (fp = fingerprint(stage.module)));
  return fp;
};

const show = (v: unknown): string => (v === undefined ? "(none)" : JSON.stringify(v));

/** Why `cur` differs from the previous key parts of the same instance; `inputs` may be partial (upstream stale). */
export const explain = (prev: KeyParts | undefined, cur: Omit<KeyParts, "inputs"> & { inputs?: KeyParts["inputs"] }, inputSources: Readonly<Record<string, string>>): string[] => {
  if (prev === undefined) return ["never computed"];
  const out: string[] = [];
  if (prev.version !== cur.version) out.push(`version ${show(prev.version)} → ${show(cur.version)}`);
  const files = new Set([...Object.keys(prev.code), ...Object.keys(cur.code)]);
  for (const f of [...files].sort())
    if (prev.code[f] !== cur.code[f])
      out.push(prev.code[f] === undefined ? `code: ${f} now imported` : cur.code[f] === undefined ? `code: ${f} no longer imported` : `code changed: ${f}`);
  for (const p of [...new Set([...Object.keys(prev.params), ...Object.keys(cur.params)])].sort())
    if (digestOf(prev.params[p] ?? null) !== digestOf(cur.params[p] ?? null)) out.push(`param ${p}: ${show(prev.params[p])} → ${show(cur.params[p])}`);
  if (cur.inputs !== undefined)
    for (const [name, d] of Object.entries(cur.inputs))
      if (prev.inputs[name] !== d) out.push(`input ${name} changed (from ${inputSources[name]})`);
  return out;
};
