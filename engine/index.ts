// The engine's public API. Stage files need `defineStage`, `Output`, `param`; pipelines `definePipeline`;
// entry points `runCli`; Effect programs the `EngineService` layer and `runPipeline`.
import { Context, Effect, Layer } from "effect";
import { isEngineError, type EngineError } from "./Errors.ts";
import { plan } from "./Graph.ts";
import type { AnyPipeline } from "./Pipeline.ts";
import { Engine, type RunOptions, type RunSummary } from "./Runner.ts";
import { status, type InstanceStatus } from "./Status.ts";

export { defineStage, Output, type Stage, type StageContext, type Row, type Cell } from "./Stage.ts";
export { param, describeParams } from "./Params.ts";
export { definePipeline, sweep, type Pipeline, type AnyPipeline, type Ref } from "./Pipeline.ts";
export { plan, parseOverride, type Plan, type PlanNode } from "./Graph.ts";
export { Engine, type RunOptions, type RunSummary, type RunEvent, type InstanceResult } from "./Runner.ts";
export { status, type InstanceStatus } from "./Status.ts";
export { runCli, builtinCommands, type Command, type CommandContext, type GlobalOption, type CliConfig } from "./Cli.ts";
export * from "./Errors.ts";

/** The engine as an Effect service: `Effect.provide(program, EngineService.layer(root))`. */
export class EngineService extends Context.Tag("acft/Engine")<EngineService, Engine>() {
  /** Opens (creating) the store at `root`; closes the database when the scope ends. */
  static layer = (root: string): Layer.Layer<EngineService> =>
    Layer.scoped(EngineService, Effect.acquireRelease(Effect.sync(() => new Engine(root)), (e) => Effect.sync(() => e.close())));
}

/** Engine errors go to the error channel; anything else thrown is a defect. */
const attempt = <A>(f: () => A): Effect.Effect<A, EngineError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f());
    } catch (e) {
      return isEngineError(e) ? Effect.fail(e) : Effect.die(e);
    }
  });

const planE = (pipeline: AnyPipeline, overrides: ReadonlyArray<string>) => attempt(() => plan(pipeline, { overrides }));

/** Plan and run a pipeline; planning errors (bad params, unknown keys, cycles…) fail with typed errors. */
export const runPipeline = (pipeline: AnyPipeline, overrides: ReadonlyArray<string> = [], opts: RunOptions = {}): Effect.Effect<RunSummary, EngineError, EngineService> =>
  Effect.gen(function* () {
    const engine = yield* EngineService;
    const p = yield* planE(pipeline, overrides);
    return yield* Effect.promise(() => engine.run(p, opts));
  });

/** Cached/stale status of every instance, with reasons. */
export const pipelineStatus = (pipeline: AnyPipeline, overrides: ReadonlyArray<string> = []): Effect.Effect<InstanceStatus[], EngineError, EngineService> =>
  Effect.gen(function* () {
    const engine = yield* EngineService;
    const p = yield* planE(pipeline, overrides);
    return yield* attempt(() => status(engine, p));
  });
