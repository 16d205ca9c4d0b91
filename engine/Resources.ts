// Resources per stage instance: what the stage declares (a constant or a function of its decoded params,
// e.g. by size preset), overridden by `--set <stage|instance>.resources.<key>=<value>`. Resources never
// enter a cache key: where an output was computed does not change what it is.
import { UnknownOverrideKey, UsageError } from "./Errors.ts";
import { RESOURCE_KEYS, type Resources } from "./Executor.ts";
import type { Override } from "./Graph.ts";
import type { AnyStage } from "./Stage.ts";

const SUFFIX = ".resources";

/** `--set train.resources.cpus=4` (target `train.resources`) is a resource override, not a param. */
export const isResourceOverride = (o: Override): boolean => o.target.endsWith(SUFFIX);

const checkValue = (key: string, o: Override): number => {
  const v = o.value;
  const min = key === "gpus" ? 0 : key === "minutes" ? Number.MIN_VALUE : 1;
  const ok = typeof v === "number" && v >= min && (key === "minutes" || Number.isInteger(v));
  if (!ok)
    throw new UsageError({ message: `--set ${o.target}.${o.param}=${JSON.stringify(v).slice(0, 200)}: expected ${key === "minutes" ? "a number of minutes > 0" : `an integer ≥ ${min}`}` });
  return v as number;
};

/** Each stage instance's resources: declared < `--set <stage>.resources.k` < `--set <instance>.resources.k`. */
export const resolveResources = (
  nodes: ReadonlyArray<{ readonly id: string; readonly stage: AnyStage; readonly params: Readonly<Record<string, unknown>> }>,
  overrides: ReadonlyArray<Override>,
): Map<string, Resources> => {
  const names = new Set(nodes.flatMap((n) => [n.id, n.stage.name]));
  for (const o of overrides) {
    const target = o.target.slice(0, -SUFFIX.length);
    if (!names.has(target) || !(RESOURCE_KEYS as ReadonlyArray<string>).includes(o.param)) {
      const known = [...new Set(nodes.map((n) => n.stage.name))].flatMap((s) => RESOURCE_KEYS.map((k) => `${s}.resources.${k}`));
      throw new UnknownOverrideKey({
        message: `--set ${o.target}.${o.param}: unknown resource key; use <stage|instance>.resources.<${RESOURCE_KEYS.join("|")}>, e.g. ${known.slice(0, 4).join(", ")}`,
        key: `${o.target}.${o.param}`, known,
      });
    }
    checkValue(o.param, o);
  }
  const out = new Map<string, Resources>();
  for (const n of nodes) {
    const declared = typeof n.stage.resources === "function" ? n.stage.resources(n.params) : n.stage.resources ?? {};
    const pick = (t: string) => Object.fromEntries(overrides.filter((o) => o.target === `${t}${SUFFIX}`).map((o) => [o.param, o.value as number]));
    out.set(n.id, { ...declared, ...pick(n.stage.name), ...pick(n.id) });
  }
  return out;
};
