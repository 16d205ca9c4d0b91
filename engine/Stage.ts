// A stage is a value: name, version, typed params, named typed inputs, one output, and `run` (an Effect).
import { type Effect, Schema } from "effect";
import { asParams, checkParamsSchema } from "./Params.ts";
import { DefinitionError } from "./Errors.ts";
import type { Resources } from "./Executor.ts";

/** A JSON value stored canonically and content-digested. */
export interface ValueOutput<A = any, I = any> {
  readonly kind: "value";
  readonly schema: Schema.Schema<A, I, never>;
}
/** A directory (checkpoint, many files) the stage writes into `ctx.outDir`; digest over its files. */
export interface DirOutput {
  readonly kind: "directory";
}
export type OutputSpec = ValueOutput | DirOutput;

export const Output = {
  value: <A, I>(schema: Schema.Schema<A, I, never>): ValueOutput<A, I> => ({ kind: "value", schema }),
  directory: (): DirOutput => ({ kind: "directory" }),
};

/** What `run` receives for an input: the decoded value, or the path of a directory/external input. */
export type InputValue<S> = S extends ValueOutput<infer A, any> ? A : string;
/** What `run` returns: the value, or nothing for a directory output (written to ctx.outDir). */
export type OutputValue<S> = S extends ValueOutput<infer A, any> ? A : void;

export type Cell = string | number | boolean | null;
export type Row = Readonly<Record<string, Cell>>;

export interface StageContext {
  /** Drives this instance's progress bar and ETA. */
  readonly progress: (done: number, total: number, label?: string) => void;
  /** Recorded in the runs DB (`metrics` table). */
  readonly metric: (name: string, value: number, step?: number) => void;
  readonly log: (message: string) => void;
  /**
   * Emit rows of a result table (SQLite table `name`, one row per method). Replaces the rows this
   * instance emitted before; provenance columns (run_id, instance_id, cache_key, source_keys) are added.
   */
  readonly table: (name: string, rows: ReadonlyArray<Row>) => void;
  /** A fresh, empty directory: the output for directory stages, scratch space for others. */
  readonly outDir: string;
  /**
   * Where to save resumable state (e.g. training checkpoints): it survives a failed, timed-out or preempted
   * attempt of this instance (same cache key; `--retries`, or a rerun) and is removed once the instance
   * succeeded. Never part of the key or the output: a resumed run must produce the same output.
   */
  readonly checkpointDir: string;
  /** The `seed` param when the stage has one, else a 31-bit number derived from its params. */
  readonly seed: number;
  readonly instanceId: string;
  readonly key: string;
  /**
   * Seconds the execution that produced input `name` took (a run fact from the run database, undefined
   * for external inputs). Timings never belong in an output: put them in `table` rows or metrics, so
   * outputs stay byte-identical across runs and early cutoff works.
   */
  readonly inputSeconds: (name: string) => number | undefined;
}

export type Process = "fork" | "inline";

export interface Stage<
  F extends Schema.Struct.Fields = any,
  I extends Record<string, OutputSpec> = any,
  O extends OutputSpec = any,
> {
  readonly _tag: "Stage";
  readonly name: string;
  readonly version: number | string;
  readonly description: string;
  /** `import.meta.url` of the module that defines (and exports) the stage: fork target + source fingerprint. */
  readonly module: string;
  readonly params: Schema.Struct<F>;
  readonly inputs: I;
  readonly output: O;
  /** "fork" (default): a child process, so CPU-heavy stages use separate cores. "inline": trivial stages. */
  readonly process: Process;
  /** CPUs, memory, GPUs and time limit an instance needs (a function of its params, e.g. by size); `--set <stage>.resources.cpus=4` overrides. */
  readonly resources?: Resources | ((params: Schema.Struct.Type<F>) => Resources);
  readonly run: (args: {
    readonly params: Schema.Struct.Type<F>;
    readonly inputs: { readonly [K in keyof I]: InputValue<I[K]> };
    readonly ctx: StageContext;
  }) => Effect.Effect<OutputValue<O>, unknown, never>;
}

export type AnyStage = Stage<any, any, any>;

const NAME = /^[a-z][a-zA-Z0-9_-]*$/;

export const defineStage = <F extends Schema.Struct.Fields, I extends Record<string, OutputSpec>, O extends OutputSpec>(
  def: Omit<Stage<F, I, O>, "_tag" | "process" | "description"> & { process?: Process; description?: string },
): Stage<F, I, O> => {
  if (!NAME.test(def.name)) throw new DefinitionError({ message: `stage name "${def.name}" must match ${NAME}` });
  if (!def.module.startsWith("file:"))
    throw new DefinitionError({ message: `stage ${def.name}: module must be import.meta.url, got "${def.module}"` });
  checkParamsSchema(asParams(def.params), `stage ${def.name}`);
  return { _tag: "Stage", process: "fork", description: "", ...def };
};

export const isStage = (x: unknown): x is AnyStage =>
  typeof x === "object" && x !== null && (x as { _tag?: unknown })._tag === "Stage";
