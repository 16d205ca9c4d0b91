// Executing one stage's `run` (in-process or inside a worker): decode params and inputs, build the
// context, run the Effect, encode the output. Shared by Runner (inline) and Worker (forked).
import { Cause, Effect, Exit } from "effect";
import { mkdirSync } from "node:fs";
import { canonicalJson, sha256 } from "./Canonical.ts";
import { StageFailed } from "./Errors.ts";
import { asParams, decodeWith, encodeWith } from "./Params.ts";
import type { AnyStage, Row, StageContext, ValueOutput } from "./Stage.ts";

/** Everything a stage execution needs, as plain (structured-cloneable) data. */
export interface Job {
  readonly moduleUrl: string;
  readonly stageName: string;
  readonly instanceId: string;
  readonly key: string;
  /** Encoded params (JSON), decoded again here so a worker sees exactly what the key hashed. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Value inputs as their encoded JSON; directory (and external) inputs as paths. */
  readonly inputs: Readonly<Record<string, { readonly json: unknown } | { readonly path: string }>>;
  readonly outDir: string;
  /** Seconds the execution that produced each (non-external) input took, from the run database. */
  readonly inputSeconds?: Readonly<Record<string, number>>;
  /** Resumable state of this instance (same key) across failed attempts and runs; created on first use. */
  readonly checkpointDir?: string;
}

export interface Sink {
  readonly progress: (done: number, total: number, label?: string) => void;
  readonly metric: (name: string, value: number, step?: number) => void;
  readonly log: (message: string) => void;
  readonly table: (name: string, rows: ReadonlyArray<Row>) => void;
}

/** Canonical JSON text of the output (value stages), or undefined (directory stages). */
export type JobResult = { readonly text?: string };

export const seedOf = (params: Readonly<Record<string, unknown>>): number =>
  typeof params.seed === "number" && Number.isInteger(params.seed) ? params.seed : parseInt(sha256(canonicalJson(params)).slice(0, 8), 16) & 0x7fffffff;

/** `lazyOutDir` (in-process runs) creates the output directory only when the stage reads `ctx.outDir`. */
export const executeStage = async (stage: AnyStage, job: Job, sink: Sink, lazyOutDir?: () => string): Promise<JobResult> => {
  const params = decodeWith(asParams(stage.params), job.params, `${job.instanceId} params`);
  const inputs: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(job.inputs)) {
    const spec = stage.inputs[name] as ValueOutput | { kind: "directory" };
    inputs[name] = "path" in v ? v.path : decodeWith((spec as ValueOutput).schema, v.json, `${job.instanceId} input ${name}`);
  }
  const ctx: StageContext = {
    ...sink, seed: seedOf(job.params), instanceId: job.instanceId, key: job.key,
    inputSeconds: (name) => job.inputSeconds?.[name],
    get outDir() {
      return job.outDir || (lazyOutDir ? lazyOutDir() : job.outDir);
    },
    get checkpointDir() {
      if (!job.checkpointDir) throw new Error(`stage ${job.instanceId}: no checkpoint directory was given to this execution`);
      mkdirSync(job.checkpointDir, { recursive: true });
      return job.checkpointDir;
    },
  };
  const exit = await Effect.runPromiseExit(Effect.suspend(() => stage.run({ params, inputs, ctx })));
  if (Exit.isFailure(exit)) {
    const failure = Cause.failureOption(exit.cause);
    const detail = failure._tag === "Some" && failure.value instanceof Error ? failure.value.message : Cause.pretty(exit.cause);
    throw new StageFailed({ message: `stage ${job.instanceId} failed: ${detail.split("\n")[0]}`, instance: job.instanceId, detail });
  }
  if (stage.output.kind === "directory") return {};
  const encoded = encodeWith((stage.output as ValueOutput).schema, exit.value, `${job.instanceId} output`);
  return { text: canonicalJson(encoded) };
};
