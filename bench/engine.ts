// Engine overhead on a synthetic 500-instance DAG of trivial stages (prints figures; not a test).
//   npm run bench:engine
// Goals (issue 2): no-op rerun (all cached) under 1 s in total (measured from process start through
// bin/acft.mjs); under 20 ms of engine overhead per executed trivial stage; worker spawn reported separately.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { plan } from "../engine/Graph.ts";
import { Engine } from "../engine/Runner.ts";
import { forks, synthetic } from "./engineStages.ts";

const root = mkdtempSync(join(tmpdir(), "acft-bench-"));
const ms = (t0: number) => performance.now() - t0;
const line = (what: string, value: string) => console.log(`${what.padEnd(52)} ${value}`);

const engine = new Engine(root);
try {
  console.log(`engine overhead — ${cpus()[0]?.model ?? "cpu"} ×${cpus().length}, node ${process.version}, store ${root}`);
  let t0 = performance.now();
  const p = plan(synthetic);
  line("plan (500 instances: build, decode, validate, dedupe)", `${ms(t0).toFixed(1)} ms`);

  t0 = performance.now();
  const first = await engine.run(p);
  const firstMs = ms(t0);
  const ran = first.instances.filter((i) => i.status === "ran").length;
  line(`first run: ${ran} executed inline`, `${firstMs.toFixed(0)} ms total, ${(firstMs / ran).toFixed(2)} ms per stage`);

  t0 = performance.now();
  const again = await engine.run(plan(synthetic));
  const noop = ms(t0);
  const cached = again.instances.filter((i) => i.status === "cached").length;
  line(`no-op rerun in-process (plan + run, ${cached} cached)`, `${noop.toFixed(0)} ms`);

  t0 = performance.now();
  const salted = await engine.run(plan(synthetic, { overrides: ["synthetic.salt=1"] }));
  const saltedMs = ms(t0);
  const reran = salted.instances.filter((i) => i.status === "ran").length;
  line(`rerun after a change invalidating all (${reran} executed)`, `${saltedMs.toFixed(0)} ms, ${(saltedMs / reran).toFixed(2)} ms per stage`);

  // The real start-up path (bin/acft.mjs): precompiled bundle, then the same through tsx. First a
  // timed esbuild build into a scratch file (what a start-up after editing a source pays), which
  // also makes sure the current bundle exists before the timed runs.
  const build = spawnSync(process.execPath, ["--input-type=module", "-e", `
    const m = await import("./scripts/bundle.mjs");
    await m.ensureBundle();
    const t0 = performance.now();
    await m.build(m.ROOT, m.sourceFiles(), ${JSON.stringify(join(root, "bundle.mjs"))});
    console.log(performance.now() - t0);`], { encoding: "utf8" });
  if (build.status !== 0) throw new Error(build.stderr);
  line("rebuild of the precompiled bundle (esbuild)", `${Number(build.stdout).toFixed(0)} ms`);
  for (const [how, env] of [["bundle", {}], ["tsx", { ACFT_NO_BUNDLE: "1" }]] as const) {
    const cli = spawnSync(process.execPath, ["bin/acft.mjs", "--store", root], { encoding: "utf8", env: { ...process.env, ...env, ACFT_MAIN: "bench/engineCli.ts" } });
    if (cli.status !== 0) throw new Error(cli.stderr);
    const r = JSON.parse(cli.stdout.trim().split("\n").pop()!) as { loadMs: number; engineMs: number; totalMs: number; cached: number; forkMs: number[] };
    line(`no-op rerun via bin/acft.mjs (${how}), since process start`, `${r.totalMs.toFixed(0)} ms (${r.loadMs.toFixed(0)} ms node + loading code, ${r.engineMs.toFixed(0)} ms engine, ${r.cached} cached)`);
    line(`forked trivial stage from that process (${how} worker)`, `${(r.forkMs.reduce((a, b) => a + b, 0) / r.forkMs.length).toFixed(0)} ms each (min ${Math.min(...r.forkMs).toFixed(0)} ms)`);
  }

  t0 = performance.now();
  const f = await engine.run(plan(forks), { jobs: 1 });
  const fMs = ms(t0);
  const per = f.instances.map((i) => i.seconds * 1000);
  line(`forked trivial stage in-process via tsx (${per.length} serial)`, `${(fMs / per.length).toFixed(0)} ms each (min ${Math.min(...per).toFixed(0)} ms)`);
} finally {
  engine.close();
  rmSync(root, { recursive: true, force: true });
}
