// `status`: which instances are cached and, for the stale ones, exactly why — without running anything.
import { digestExternal } from "./ArtifactStore.ts";
import type { Plan } from "./Graph.ts";
import { codeOf, explain, keyOf, readKeyParts, type KeyParts } from "./Keys.ts";
import type { Engine } from "./Runner.ts";

export interface InstanceStatus {
  readonly id: string;
  readonly stage: string;
  readonly status: "cached" | "stale";
  /** Seconds the cached result took to compute (null when stale). */
  readonly seconds: number | null;
  readonly key?: string;
  readonly outputDigest?: string;
  /** For stale instances: what changed since the instance's last cached result. */
  readonly reasons: ReadonlyArray<string>;
}

export const status = (engine: Engine, plan: Plan): InstanceStatus[] => {
  const digests = new Map<string, string>();
  const missing = new Map<string, string>();
  const code = new Map<string, Record<string, string>>();
  const out: InstanceStatus[] = [];
  for (const n of plan.nodes) {
    if (n.kind === "external") {
      try {
        digests.set(n.id, digestExternal(n.path, engine.db.hashCache));
      } catch (e) {
        if ((e as { _tag?: string })._tag !== "ExternalMissing") throw e;
        missing.set(n.id, `${n.path} does not exist`);
      }
      continue;
    }
    const base = { stage: n.stage.name, version: n.stage.version, code: codeOf(code, n.stage), params: n.paramsEncoded };
    const staleUp = Object.entries(n.inputs).filter(([, src]) => !digests.has(src));
    // Compare with this instance's last result, else with the stage's latest (its id may have changed).
    const own = engine.db.lastForInstance(n.id);
    const prevEntry = own ?? engine.db.lastForStage(n.stage.name);
    const prev = prevEntry ? readKeyParts(prevEntry.key_parts) : undefined;
    const vs = own === undefined && prevEntry ? [`new instance id; compared with ${prevEntry.instance_id}:`] : [];
    if (staleUp.length > 0) {
      const why = staleUp.map(([name, src]) =>
        missing.has(src) ? `input ${name}: external ${missing.get(src)}` : `input ${name}: upstream ${src} is stale (reruns first; may cut off early)`);
      out.push({ id: n.id, stage: n.stage.name, status: "stale", seconds: null, reasons: [...vs, ...explain(prev, base, {}), ...why] });
      continue;
    }
    const parts: KeyParts = { ...base, inputs: Object.fromEntries(Object.entries(n.inputs).map(([k, src]) => [k, digests.get(src)!])) };
    const key = keyOf(parts);
    const entry = engine.db.cacheGet(key);
    if (entry && engine.store.intact(entry.output_kind, entry.output_digest)) {
      digests.set(n.id, entry.output_digest);
      out.push({ id: n.id, stage: n.stage.name, status: "cached", seconds: entry.seconds, key, outputDigest: entry.output_digest, reasons: [] });
      continue;
    }
    const reasons = explain(prev, parts, n.inputs);
    out.push({ id: n.id, stage: n.stage.name, status: "stale", seconds: null, key,
      reasons: entry ? [engine.store.has(entry.output_kind, entry.output_digest) ? "artifact corrupt (does not match its digest): the run replaces it" : "artifact missing from the store (removed by gc or by hand)"] : reasons.length > 0 ? [...vs, ...reasons] : ["no cached result for this key"] });
  }
  return out;
};
