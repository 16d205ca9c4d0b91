// The pipeline registry: what `acft run <name>` can run.
import type { AnyPipeline } from "../engine/Pipeline.ts";
import { ablations } from "./ablations.ts";
import { demo } from "./demo.ts";
import { paper } from "./paper.ts";
import { seeds } from "./seeds.ts";
import { smoke } from "./smoke.ts";
import { toy } from "./toy.ts";

export const pipelines: ReadonlyArray<AnyPipeline> = [paper, smoke, ablations, seeds, toy, demo];
