// Pure planning: overrides → decoded params → validated, deduplicated, topologically ordered instances.
import { CycleError, DefinitionError, MissingInput, UnknownOverrideKey, UsageError } from "./Errors.ts";
import { digestOf } from "./Canonical.ts";
import { asParams, decodeWith, describeParams, encodeWith, parseOverrideValue } from "./Params.ts";
import { collect, type AnyPipeline, type RawNode } from "./Pipeline.ts";
import type { AnyStage } from "./Stage.ts";
import type { Resources } from "./Executor.ts";
import { isResourceOverride, resolveResources } from "./Resources.ts";

export interface Override {
  readonly target: string;
  readonly param: string;
  readonly value: unknown;
}

export type PlanNode =
  | {
      readonly kind: "stage";
      readonly id: string;
      readonly stage: AnyStage;
      /** Decoded params (defaults filled in) and their JSON encoding, which enters the cache key. */
      readonly params: Readonly<Record<string, unknown>>;
      readonly paramsEncoded: Readonly<Record<string, unknown>>;
      readonly inputs: Readonly<Record<string, string>>;
      readonly aliases: ReadonlyArray<string>;
      /** Declared resources with `--set <stage|instance>.resources.<key>` applied (never part of the key). */
      readonly resources?: Resources;
    }
  | { readonly kind: "external"; readonly id: string; readonly path: string; readonly aliases: ReadonlyArray<string> };

export interface Plan {
  readonly pipeline: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** Topological order; a node's inputs come before it. */
  readonly nodes: ReadonlyArray<PlanNode>;
  readonly byId: ReadonlyMap<string, PlanNode>;
}

/**
 * Parse `target.param=value`. The separator is the first `=` outside brackets, the target/param split the
 * last `.` before it (outside brackets), so ids like `scale[k=0.5]` work: `scale[k=0.5].k=2`.
 */
export const parseOverride = (raw: string): Override => {
  let depth = 0, eq = -1, dot = -1;
  for (let i = 0; i < raw.length && eq < 0; i++) {
    const c = raw[i];
    if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (depth === 0 && c === "=") eq = i;
    else if (depth === 0 && c === ".") dot = i;
  }
  if (eq < 0 || dot < 0 || dot === 0 || dot === eq - 1)
    throw new UsageError({ message: `--set "${raw}": expected <stage|instance|pipeline>.<param>=<value>, e.g. --set train.lr=0.001` });
  return { target: raw.slice(0, dot), param: raw.slice(dot + 1, eq), value: parseOverrideValue(raw.slice(eq + 1)) };
};

/** `--set` keys: pipeline and stage-wide ones, plus instance-specific ones (`<id>.<param>`). */
const knownKeys = (pipeline: AnyPipeline, raw: ReadonlyArray<RawNode>): { general: string[]; instances: string[]; all: string[] } => {
  const general = describeParams(asParams(pipeline.params)).map((p) => `${pipeline.name}.${p.name}`);
  const stages = new Map<string, AnyStage>();
  for (const n of raw) if (n.kind === "stage") stages.set(n.stage.name, n.stage);
  for (const [name, s] of stages) for (const p of describeParams(asParams(s.params))) general.push(`${name}.${p.name}`);
  const inst = raw.flatMap((n) => (n.kind === "stage" && n.id !== n.stage.name ? [n] : []));
  const instanceKeys = inst.flatMap((n) => (n.kind === "stage" ? Object.keys(n.stage.params.fields).map((p) => `${n.id}.${p}`) : []));
  return { general, instances: inst.map((n) => n.id), all: [...general, ...instanceKeys] };
};

/** Levenshtein distance, for "did you mean". */
const distance = (a: string, b: string): number => {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
};

const unknownKey = (o: Override, k: ReturnType<typeof knownKeys>): UnknownOverrideKey => {
  const key = `${o.target}.${o.param}`;
  const best = k.all.map((c) => [c, distance(c, key)] as const).sort((x, y) => x[1] - y[1])[0];
  const hint = best && best[1] <= 3 ? ` Did you mean ${best[0]}?` : "";
  const inst = k.instances.length > 0 ? `\n  and <instance>.<param> for the instances: ${k.instances.join(", ")}` : "";
  return new UnknownOverrideKey({ message: `--set ${key}: unknown key.${hint} Known keys:\n  ${k.general.join("\n  ")}${inst}`, key, known: k.all });
};

/** Decode the pipeline's params from given values plus `--set <pipeline>.<param>=v` overrides. */
const pipelineParams = (pipeline: AnyPipeline, given: Record<string, unknown>, overrides: Override[]) => {
  const fields = new Set(Object.keys(pipeline.params.fields));
  const mine = overrides.filter((o) => o.target === pipeline.name);
  for (const o of mine) if (!fields.has(o.param)) throw unknownKey(o, knownKeys(pipeline, []));
  const merged = { ...given, ...Object.fromEntries(mine.map((o) => [o.param, o.value])) };
  return decodeWith(asParams(pipeline.params), merged, `pipeline ${pipeline.name} params`) as Record<string, unknown>;
};

/** Each stage node's params: pipeline-given < `--set stage.p` < `--set instance.p`, decoded. */
const applyOverrides = (pipeline: AnyPipeline, raw: RawNode[], overrides: Override[]) => {
  const byStage = new Map<string, AnyStage>();
  const byId = new Map<string, AnyStage>();
  for (const n of raw) if (n.kind === "stage") byStage.set(n.stage.name, n.stage), byId.set(n.id, n.stage);
  for (const o of overrides) {
    if (o.target === pipeline.name) continue;
    const stage = byId.get(o.target) ?? byStage.get(o.target);
    if (stage === undefined || !(o.param in stage.params.fields)) throw unknownKey(o, knownKeys(pipeline, raw));
  }
  return raw.map((n) => {
    if (n.kind !== "stage") return { node: n, params: {}, encoded: {} };
    const pick = (t: string) => Object.fromEntries(overrides.filter((o) => o.target === t).map((o) => [o.param, o.value]));
    const merged = { ...n.given, ...pick(n.stage.name), ...pick(n.id) };
    const where = `${n.id} params`;
    const params = decodeWith(asParams(n.stage.params), merged, where);
    return { node: n, params, encoded: encodeWith(asParams(n.stage.params), params, where) };
  });
};

const checkInputs = (raw: RawNode[]): void => {
  const ids = new Map(raw.map((n) => [n.id, n]));
  for (const n of raw) {
    if (n.kind !== "stage") continue;
    for (const name of Object.keys(n.stage.inputs))
      if (!(name in n.inputs))
        throw new MissingInput({ message: `instance ${n.id}: input "${name}" is not connected; pass inputs: { ${name}: <ref> }`, instance: n.id, input: name });
    for (const [name, src] of Object.entries(n.inputs)) {
      const spec = n.stage.inputs[name];
      if (spec === undefined)
        throw new DefinitionError({ message: `instance ${n.id}: stage ${n.stage.name} has no input "${name}" (inputs: ${Object.keys(n.stage.inputs).join(", ") || "none"})` });
      const from = ids.get(src);
      if (from === undefined)
        throw new MissingInput({ message: `instance ${n.id}: input "${name}" refers to "${src}", which is not in the pipeline`, instance: n.id, input: name });
      const kind = from.kind === "external" ? "directory" : from.stage.output.kind;
      if (kind !== spec.kind)
        throw new DefinitionError({ message: `instance ${n.id}: input "${name}" expects a ${spec.kind} but "${src}" produces a ${kind}` });
    }
  }
};

/** Kahn's algorithm in declaration order; on a leftover, walk it to name the cycle. */
const topoOrder = (raw: RawNode[]): RawNode[] => {
  const deps = (n: RawNode) => (n.kind === "stage" ? Object.values(n.inputs) : []);
  const done = new Set<string>();
  const order: RawNode[] = [];
  let progressed = true;
  while (progressed) {
    progressed = false;
    for (const n of raw)
      if (!done.has(n.id) && deps(n).every((d) => done.has(d))) {
        done.add(n.id), order.push(n), (progressed = true);
      }
  }
  if (order.length === raw.length) return order;
  const byId = new Map(raw.map((n) => [n.id, n]));
  const path: string[] = [];
  let cur = raw.find((n) => !done.has(n.id))!;
  while (!path.includes(cur.id)) {
    path.push(cur.id);
    cur = byId.get(deps(cur).find((d) => !done.has(d))!)!;
  }
  const cycle = [...path.slice(path.indexOf(cur.id)), cur.id].reverse(); // in data-flow order: a feeds b feeds …
  throw new CycleError({ message: `the pipeline has a cycle (each feeds the next): ${cycle.join(" → ")}; break it by removing one of these inputs`, cycle });
};

/** Plan a pipeline: pure (no I/O besides the pipeline's own `build`). */
export const plan = (
  pipeline: AnyPipeline,
  opts: { overrides?: ReadonlyArray<string | Override>; params?: Record<string, unknown> } = {},
): Plan => {
  const all = (opts.overrides ?? []).map((o) => (typeof o === "string" ? parseOverride(o) : o));
  const overrides = all.filter((o) => !isResourceOverride(o));
  const params = pipelineParams(pipeline, opts.params ?? {}, overrides);
  const raw = collect(pipeline, params);
  const decoded = new Map(applyOverrides(pipeline, raw, overrides).map((d) => [d.node.id, d]));
  checkInputs(raw);
  const resources = resolveResources([...decoded.values()].flatMap((d) => (d.node.kind === "stage" ? [{ id: d.node.id, stage: d.node.stage, params: d.params }] : [])), all.filter(isResourceOverride));
  // Structural dedupe: same stage, code, params and (deduped) inputs → one instance, first id wins.
  const canon = new Map<string, string>(), seen = new Map<string, PlanNode>(), nodes: PlanNode[] = [];
  for (const n of topoOrder(raw)) {
    const d = decoded.get(n.id)!;
    const inputs = n.kind === "stage" ? Object.fromEntries(Object.entries(n.inputs).map(([k, v]) => [k, canon.get(v)!])) : {};
    const skey = n.kind === "external" ? digestOf(["external", n.path])
      : digestOf([n.stage.name, n.stage.version, n.stage.module, d.encoded, inputs]);
    const first = seen.get(skey);
    if (first) {
      canon.set(n.id, first.id);
      (first.aliases as string[]).push(n.id);
      continue;
    }
    const node: PlanNode = n.kind === "external"
      ? { kind: "external", id: n.id, path: n.path, aliases: [] }
      : { kind: "stage", id: n.id, stage: n.stage, params: d.params, paramsEncoded: d.encoded, inputs, aliases: [], resources: resources.get(n.id) };
    canon.set(n.id, n.id), seen.set(skey, node), nodes.push(node);
  }
  return { pipeline: pipeline.name, params, nodes, byId: new Map(nodes.map((n) => [n.id, n])) };
};

/** Nodes that (transitively) depend on `id`. */
export const dependants = (p: Plan, id: string): Set<string> => {
  const out = new Set<string>([id]);
  for (const n of p.nodes) if (n.kind === "stage" && Object.values(n.inputs).some((i) => out.has(i))) out.add(n.id);
  out.delete(id);
  return out;
};

/** Glob over instance ids: `*` matches within one `/`-separated part, `**` across parts. */
const globRe = (glob: string): RegExp =>
  new RegExp(`^${glob.split(/(\*\*|\*)/).map((t) => (t === "**" ? ".*" : t === "*" ? "[^/]*" : t.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))).join("")}$`);

/**
 * The sub-plan that computes the instances matching `patterns` (globs over ids and aliases) and everything they
 * read. A pattern that matches nothing is a usage error listing some ids, so a typo never runs an empty plan.
 */
export const restrict = (p: Plan, patterns: ReadonlyArray<string>): Plan => {
  if (patterns.length === 0) return p;
  const keep = new Set<string>();
  for (const pat of patterns) {
    const re = globRe(pat);
    const hits = p.nodes.filter((n) => re.test(n.id) || n.aliases.some((a) => re.test(a)));
    if (hits.length === 0) {
      const ids = p.nodes.map((n) => n.id);
      throw new UsageError({ message: `--only ${pat}: no instance of ${p.pipeline} matches; ids look like ${ids.slice(0, 8).join(", ")}${ids.length > 8 ? ", …" : ""} (\`acft dag ${p.pipeline}\` lists all; * matches within a /-part, ** across)` });
    }
    for (const n of hits) keep.add(n.id);
  }
  // Nodes are in topological order: walking backwards, a kept node keeps its inputs.
  for (const n of [...p.nodes].reverse()) if (keep.has(n.id) && n.kind === "stage") for (const i of Object.values(n.inputs)) keep.add(i);
  const nodes = p.nodes.filter((n) => keep.has(n.id));
  return { ...p, nodes, byId: new Map(nodes.map((n) => [n.id, n])) };
};
