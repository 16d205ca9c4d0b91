// `demo`: a seconds-long pipeline of trivial stages that exercises every engine feature (value and
// directory outputs, a forked stage, a sweep, a result table). (It was the engine's first `smoke`; the
// paper's tiny end-to-end run took that name — pipelines/smoke.ts.)
import { Effect, Schema } from "effect";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { definePipeline } from "../engine/Pipeline.ts";
import { param } from "../engine/Params.ts";
import { defineStage, Output } from "../engine/Stage.ts";

const Numbers = Schema.Array(Schema.Number);

export const count = defineStage({
  name: "count",
  version: 1,
  description: "the integers 0..n-1",
  module: import.meta.url,
  process: "inline",
  params: Schema.Struct({ n: param(Schema.Int.pipe(Schema.positive()), 8, "how many integers") }),
  inputs: {},
  output: Output.value(Numbers),
  run: ({ params }) => Effect.succeed(Array.from({ length: params.n }, (_, i) => i)),
});

export const square = defineStage({
  name: "square",
  version: 1,
  description: "squares each number in a worker process, reporting progress",
  module: import.meta.url,
  params: Schema.Struct({ delayMs: param(Schema.Number, 0, "artificial delay per element (to watch the progress bar)") }),
  inputs: { xs: Output.value(Numbers) },
  output: Output.value(Numbers),
  run: ({ params, inputs, ctx }) =>
    Effect.promise(async () => {
      const out: number[] = [];
      for (const [i, x] of inputs.xs.entries()) {
        if (params.delayMs > 0) await new Promise((r) => setTimeout(r, params.delayMs));
        out.push(x * x);
        ctx.progress(i + 1, inputs.xs.length, "elements");
      }
      return out;
    }),
});

export const shard = defineStage({
  name: "shard",
  version: 1,
  description: "writes the numbers into a directory, one file per shard",
  module: import.meta.url,
  process: "inline",
  params: Schema.Struct({ shards: param(Schema.Int.pipe(Schema.positive()), 2, "number of files") }),
  inputs: { xs: Output.value(Numbers) },
  output: Output.directory(),
  run: ({ params, inputs, ctx }) =>
    Effect.sync(() => {
      mkdirSync(join(ctx.outDir, "shards"));
      for (let s = 0; s < params.shards; s++)
        writeFileSync(join(ctx.outDir, "shards", `${s}.json`), JSON.stringify(inputs.xs.filter((_, i) => i % params.shards === s)));
    }),
});

export const scale = defineStage({
  name: "scale",
  version: 1,
  description: "reads the shards back, multiplies by a factor, emits one row of the smoke table",
  module: import.meta.url,
  process: "inline",
  params: Schema.Struct({ factor: param(Schema.Number, 1, "multiplier") }),
  inputs: { shards: Output.directory() },
  output: Output.value(Schema.Struct({ factor: Schema.Number, total: Schema.Number })),
  run: ({ params, inputs, ctx }) =>
    Effect.sync(() => {
      const dir = join(inputs.shards, "shards");
      const xs = readdirSync(dir).flatMap((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as number[]);
      const total = params.factor * xs.reduce((a, b) => a + b, 0);
      ctx.metric("total", total);
      ctx.table("demo", [{ method: `scale×${params.factor}`, factor: params.factor, total }]);
      return { factor: params.factor, total };
    }),
});

export const demo = definePipeline({
  name: "demo",
  description: "trivial stages exercising the engine (seconds)",
  params: Schema.Struct({
    size: param(Schema.Int.pipe(Schema.positive()), 8, "how many numbers flow through the pipeline"),
    factors: param(Schema.Array(Schema.Number), [1, 2, 3], "the sweep over scale factors"),
  }),
  build: (p, params) => {
    const xs = p.add(count, { id: "count", params: { n: params.size } });
    const sq = p.add(square, { inputs: { xs } });
    const dir = p.add(shard, { inputs: { xs: sq } });
    for (const { factor } of p.sweep({ factor: params.factors })) p.add(scale, { params: { factor }, inputs: { shards: dir } });
  },
});
