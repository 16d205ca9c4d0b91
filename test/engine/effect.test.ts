// The Effect-facing API: the EngineService layer and typed failures in the error channel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Effect, Either } from "effect";
import { EngineService, pipelineStatus, runPipeline } from "../../engine/index.ts";
import { chain } from "./fixtures/pipelines.ts";
import { tempDir } from "./helpers.ts";

test("runPipeline runs through the EngineService layer; planning errors are typed failures", async () => {
  const layer = EngineService.layer(tempDir());
  const program = Effect.gen(function* () {
    const first = yield* runPipeline(chain);
    const st = yield* pipelineStatus(chain, ["chain.a=5"]);
    const bad = yield* Effect.either(runPipeline(chain, ["emit.nope=1"]));
    return { first, st, bad };
  });
  const { first, st, bad } = await Effect.runPromise(Effect.provide(program, layer));
  assert.ok(first.instances.every((i) => i.status === "ran"));
  assert.deepEqual(st.filter((s) => s.status === "stale").map((s) => s.id), ["a", "sum", "par", "dbl", "dir", "read"]);
  assert.ok(Either.isLeft(bad) && bad.left._tag === "UnknownOverrideKey");
});
