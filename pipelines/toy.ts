// `toy`: the method on an exact toy in seconds — a demonstration and a check (table method_check).
// acft run toy [--set method_check.lambda=8] [--set method_check.iterations=3]
import { Schema } from "effect";
import { definePipeline } from "../engine/Pipeline.ts";
import { methodCheck } from "../stages/toy.ts";

export const toy = definePipeline({
  name: "toy",
  description: "NADO + closed-form KL regulariser on an exact toy, each piece measured against its exact answer",
  params: Schema.Struct({}),
  build: (p) => {
    p.add(methodCheck, {});
  },
});
