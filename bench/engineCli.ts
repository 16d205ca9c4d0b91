// Helper for bench/engine.ts: a fresh process doing a no-op rerun of the synthetic DAG, timing itself.
import { plan } from "../engine/Graph.ts";
import { Engine } from "../engine/Runner.ts";
import { synthetic } from "./engineStages.ts";

const start = performance.now();
const root = process.argv[process.argv.indexOf("--store") + 1];
const engine = new Engine(root);
const t0 = performance.now();
const s = await engine.run(plan(synthetic));
engine.close();
// performance.now() counts from process start: node boot + tsx + module loading + the rerun.
console.log(`${(performance.now() - t0).toFixed(0)} ms engine (${s.instances.filter((i) => i.status === "cached").length} cached), ${performance.now().toFixed(0)} ms since process start (${(t0 - start).toFixed(0)} ms opening the store)`);
