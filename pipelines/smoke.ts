// `smoke`: the whole study — every stage kind, both schedules' shapes, Table 1, win rates, Jigsaw and
// the schedules table — at the `tiny` size: a tiny end-to-end run in about a minute (used by the tests).
import { Schema } from "effect";
import { definePipeline } from "../engine/Pipeline.ts";
import { judgeParams, studyParams } from "./params.ts";
import { buildStudy, evaluate, iterate } from "./study.ts";
import { schedulesStage } from "../stages/schedules.ts";

export const smoke = definePipeline({
  name: "smoke",
  description: "every stage on the tiny size (about a minute; the end-to-end test)",
  params: Schema.Struct({ ...studyParams("tiny"), ...judgeParams }),
  build: (p, params) => {
    const { u, models } = buildStudy(p, { ...params, schedule: "parallel" });
    // The other schedule's chain and the schedules table (the ablations' sequential-vs-parallel).
    const seq = iterate(p, u, { name: "ours-ad-seq", schedule: "sequential", adaptive: true, iterations: u.S.iterations });
    const par = iterate(p, u, { name: "ours-ad-par", schedule: "parallel", adaptive: true, iterations: u.S.iterations });
    const seqEv = evaluate(p, u, "ours-ad-seq", seq.thetas[u.S.iterations], false);
    const parEv = evaluate(p, u, "oursAdaptive", models.oursAdaptive, false);
    const jobs = { ...seq.jobs, ...par.jobs };
    p.add(schedulesStage(Object.keys(jobs)), { id: "schedules-table", inputs: { ...jobs, sequentialTox: seqEv.Tox!, sequentialPpl: seqEv.Ppl!, parallelTox: parEv.Tox!, parallelPpl: parEv.Ppl! } as never });
  },
});
