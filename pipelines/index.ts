// The pipeline registry: what `acft run <name>` can run.
import type { AnyPipeline } from "../engine/Pipeline.ts";
import { smoke } from "./smoke.ts";
import { toy } from "./toy.ts";

export const pipelines: ReadonlyArray<AnyPipeline> = [smoke, toy];
