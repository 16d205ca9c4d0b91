// Pipelines: TypeScript values whose `build` adds stage instances (and external inputs) to a builder.
import { resolve } from "node:path";
import type { Schema } from "effect";
import { DefinitionError } from "./Errors.ts";
import { canonicalJson } from "./Canonical.ts";
import { asParams, checkParamsSchema } from "./Params.ts";
import type { AnyStage, DirOutput, OutputSpec, Stage } from "./Stage.ts";

/** A handle on an instance's output, used to connect it to another instance's input. */
export interface Ref<O extends OutputSpec = OutputSpec> {
  readonly _tag: "Ref";
  readonly id: string;
  readonly output?: O;
}

/** Inputs accepted for a stage: a ref whose output kind matches the declared input. */
export type InputRefs<I extends Record<string, OutputSpec>> = {
  readonly [K in keyof I]: Ref<I[K] extends DirOutput ? DirOutput : I[K]> | Ref<never>;
};

export type RawNode =
  | {
      readonly kind: "stage";
      readonly id: string;
      readonly stage: AnyStage;
      readonly given: Readonly<Record<string, unknown>>;
      readonly inputs: Readonly<Record<string, string>>;
    }
  | { readonly kind: "external"; readonly id: string; readonly path: string };

export interface Builder {
  /** Add a stage instance. `params` are encoded values (JSON); missing ones take the schema defaults. */
  add<F extends Schema.Struct.Fields, I extends Record<string, OutputSpec>, O extends OutputSpec>(
    stage: Stage<F, I, O>,
    opts?: { id?: string; params?: Partial<Schema.Struct.Encoded<F>>; inputs?: InputRefs<I> },
  ): Ref<O>;
  /** A file or directory outside the store; its content digest enters its dependants' keys. */
  external(path: string, opts?: { id?: string }): Ref<DirOutput>;
  /** A reference by id to an instance added anywhere in `build` (forward references allowed). */
  ref<O extends OutputSpec = never>(id: string): Ref<O>;
  /** The cartesian product of a grid: `sweep({ lr: [1e-3, 1e-4], seed: [1, 2] })` → 4 combinations. */
  sweep<G extends Record<string, ReadonlyArray<unknown>>>(grid: G): Array<{ [K in keyof G]: G[K][number] }>;
}

export interface Pipeline<F extends Schema.Struct.Fields = any> {
  readonly _tag: "Pipeline";
  readonly name: string;
  readonly description: string;
  readonly params: Schema.Struct<F>;
  readonly build: (p: Builder, params: Schema.Struct.Type<F>) => void;
}
export type AnyPipeline = Pipeline<any>;

export const definePipeline = <F extends Schema.Struct.Fields>(def: Omit<Pipeline<F>, "_tag">): Pipeline<F> => {
  checkParamsSchema(asParams(def.params), `pipeline ${def.name}`);
  return { _tag: "Pipeline", ...def };
};

/** Default id: the stage name, plus the params the pipeline gave: `scale[k=2]`. */
const defaultId = (stage: AnyStage, given: Record<string, unknown>): string => {
  const keys = Object.keys(given).filter((k) => given[k] !== undefined).sort();
  if (keys.length === 0) return stage.name;
  return `${stage.name}[${keys.map((k) => `${k}=${typeof given[k] === "string" ? given[k] : canonicalJson(given[k])}`).join(",")}]`;
};

export const sweep = <G extends Record<string, ReadonlyArray<unknown>>>(grid: G): Array<{ [K in keyof G]: G[K][number] }> =>
  Object.entries(grid).reduce<Array<Record<string, unknown>>>(
    (acc, [k, values]) => acc.flatMap((combo) => values.map((v) => ({ ...combo, [k]: v }))),
    [{}],
  ) as Array<{ [K in keyof G]: G[K][number] }>;

/** Run a pipeline's `build` and collect its raw nodes (declaration order). */
export const collect = <F extends Schema.Struct.Fields>(pipeline: Pipeline<F>, params: Schema.Struct.Type<F>): RawNode[] => {
  const nodes = new Map<string, RawNode>();
  const put = (node: RawNode): void => {
    const prev = nodes.get(node.id);
    if (prev === undefined) return void nodes.set(node.id, node);
    const same = (a: RawNode) =>
      canonicalJson(a.kind === "stage" ? [a.stage.name, a.given, a.inputs] : [a.path]);
    if (prev.kind !== node.kind || (prev.kind === "stage" && node.kind === "stage" && prev.stage !== node.stage) || same(prev) !== same(node))
      throw new DefinitionError({
        message: `pipeline ${pipeline.name}: instance id "${node.id}" is used by two different instances; give one of them another \`id\``,
      });
  };
  const builder: Builder = {
    add(stage, opts = {}) {
      const given = { ...(opts.params ?? {}) } as Record<string, unknown>;
      const inputs = Object.fromEntries(Object.entries(opts.inputs ?? {}).map(([k, r]) => [k, (r as Ref).id]));
      const id = opts.id ?? defaultId(stage as unknown as AnyStage, given);
      put({ kind: "stage", id, stage: stage as unknown as AnyStage, given, inputs });
      return { _tag: "Ref", id, output: stage.output };
    },
    external(path, opts = {}) {
      const abs = resolve(path);
      const id = opts.id ?? `external:${abs}`;
      put({ kind: "external", id, path: abs });
      return { _tag: "Ref", id, output: { kind: "directory" } };
    },
    ref: (id) => ({ _tag: "Ref", id }),
    sweep,
  };
  pipeline.build(builder, params);
  return [...nodes.values()];
};
