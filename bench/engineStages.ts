// Trivial stages and a synthetic 500-instance DAG for bench/engine.ts (kept apart so forked workers
// importing a stage module do not start the benchmark).
import { Effect, Schema } from "effect";
import { definePipeline, type Ref } from "../engine/Pipeline.ts";
import { param } from "../engine/Params.ts";
import { defineStage, Output, type ValueOutput } from "../engine/Stage.ts";

const Num = Output.value(Schema.Number);

export const source = defineStage({
  name: "source", version: 1, module: import.meta.url, process: "inline",
  params: Schema.Struct({ i: param(Schema.Number, 0, "index"), salt: param(Schema.Number, 0, "changes every key") }),
  inputs: {}, output: Num,
  run: ({ params }) => Effect.succeed(params.i + params.salt),
});

export const combine = defineStage({
  name: "combine", version: 1, module: import.meta.url, process: "inline",
  params: Schema.Struct({ i: param(Schema.Number, 0, "index") }),
  inputs: { a: Num, b: Num }, output: Num,
  run: ({ inputs }) => Effect.succeed(inputs.a + inputs.b),
});

export const forked = defineStage({
  name: "forked", version: 1, module: import.meta.url,
  params: Schema.Struct({ i: param(Schema.Number, 0, "index"), salt: param(Schema.Number, 0, "changes every key") }),
  inputs: {}, output: Num,
  run: ({ params }) => Effect.succeed(params.i + params.salt),
});

/** `sources` independent sources, then `n - sources` combines, each reading two earlier instances. */
export const synthetic = definePipeline({
  name: "synthetic", description: "trivial 500-instance DAG",
  params: Schema.Struct({
    n: param(Schema.Int, 500, "instances"),
    sources: param(Schema.Int, 100, "source instances"),
    salt: param(Schema.Number, 0, "change to invalidate every instance"),
  }),
  build: (p, { n, sources, salt }) => {
    const refs: Array<Ref<ValueOutput>> = [];
    for (let i = 0; i < sources; i++) refs.push(p.add(source, { id: `s${i}`, params: { i, salt } }));
    for (let i = sources; i < n; i++) refs.push(p.add(combine, { id: `c${i}`, params: { i }, inputs: { a: refs[i - 1], b: refs[Math.floor(i / 2)] } }));
  },
});

export const forks = definePipeline({
  name: "forks", description: "trivial forked stages",
  params: Schema.Struct({ n: param(Schema.Int, 4, "instances"), salt: param(Schema.Number, 0, "changes every key") }),
  build: (p, { n, salt }) => {
    for (let i = 0; i < n; i++) p.add(forked, { id: `f${i}`, params: { i, salt } });
  },
});
