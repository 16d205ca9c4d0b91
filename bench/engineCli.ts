// Helper for bench/engine.ts, run in a fresh process through bin/acft.mjs (ACFT_MAIN=bench/engineCli.ts,
// so it starts exactly like `acft`: precompiled bundle, or tsx with ACFT_NO_BUNDLE=1). Prints one JSON
// line: a no-op rerun of the synthetic DAG timed from process start, then serial forked trivial stages.
import { plan } from "../engine/Graph.ts";
import { Engine } from "../engine/Runner.ts";
import { forks, synthetic } from "./engineStages.ts";

const start = performance.now(); // performance.now() counts from process start: node boot + loading code
const root = process.argv[process.argv.indexOf("--store") + 1];
const engine = new Engine(root);
const t0 = performance.now();
const s = await engine.run(plan(synthetic));
const total = performance.now();
const f = await engine.run(plan(forks, { overrides: [`forks.salt=${Date.now()}`] }), { jobs: 1 });
engine.close();
console.log(JSON.stringify({
  loadMs: start, openMs: t0 - start, engineMs: total - t0, totalMs: total,
  cached: s.instances.filter((i) => i.status === "cached").length,
  forkMs: f.instances.map((i) => i.seconds * 1000),
}));
