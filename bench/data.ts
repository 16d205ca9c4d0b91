// Figures for docs/data.md: synthetic generation time and sizes, and reader throughput.
//   npx tsx bench/data.ts [--data-dir ../shared/datasets]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DATASETS, DATASET_NAMES, datasetPresent } from "../data/registry.ts";
import { buildSynthetic, writeSynthetic } from "../data/synthetic/generate.ts";

const ms = (f: () => void): number => {
  const t = performance.now();
  f();
  return performance.now() - t;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const runs = Array.from({ length: 5 }, () => ms(() => buildSynthetic()));
const s = buildSynthetic();
console.log(`synthetic default (seed ${s.config.seed}): build median of 5 = ${median(runs).toFixed(0)} ms`);
for (const [path, text] of s.files) {
  const words = text.split(/\s+/).filter((w) => w !== "").length;
  console.log(`  ${path.padEnd(58)} ${String(Buffer.byteLength(text)).padStart(8)} bytes ${String(words).padStart(7)} words`);
}

const report = (dir: string, label: string) => {
  console.log(`readers on ${label}:`);
  for (const n of DATASET_NAMES.filter((x) => datasetPresent(x, dir))) {
    let recs = 0;
    const t = ms(() => { recs = DATASETS[n].read(dir).records.length; });
    console.log(`  ${n.padEnd(20)} ${String(recs).padStart(7)} records ${t.toFixed(0).padStart(6)} ms`);
  }
};
const tmp = mkdtempSync(join(tmpdir(), "acft-bench-"));
try {
  console.log(`write to disk: ${ms(() => writeSynthetic(tmp)).toFixed(0)} ms`);
  report(tmp, "the synthetic default");
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const i = process.argv.indexOf("--data-dir");
if (i > 0) report(process.argv[i + 1], process.argv[i + 1]);
