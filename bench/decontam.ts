// Figures for docs/data.md "Decontamination": how long the 13-gram check takes, and what it removes.
//   npx tsx bench/decontam.ts [--data-dir ../shared/datasets]   (default: the synthetic default world)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANY_EVAL_SET, contaminationRows, NgramIndex } from "../data/decontam.ts";
import { writeSynthetic } from "../data/synthetic/generate.ts";
import { evalSets, trainingSources } from "../stages/corpora.ts";

const timed = <A>(label: string, f: () => A): A => {
  const t = performance.now();
  const a = f();
  console.log(`${label.padEnd(44)} ${((performance.now() - t) / 1000).toFixed(2)} s`);
  return a;
};

const i = process.argv.indexOf("--data-dir");
const tmp = i > 0 ? undefined : mkdtempSync(join(tmpdir(), "acft-bench-"));
const dir = i > 0 ? process.argv[i + 1] : tmp!;
try {
  if (tmp) writeSynthetic(tmp);
  const sets = timed("read the evaluation sets", () => evalSets(dir));
  const index = timed("index their n-grams", () => NgramIndex.build(sets));
  const sources = timed("read + decontaminate the training sources", () => trainingSources(dir));
  const words = sources.reduce((a, s) => a + s.before.reduce((b, t) => b + t.split(/\s+/).length, 0), 0);
  const texts = sources.reduce((a, s) => a + s.before.length, 0);
  timed(`scan ${texts} training texts (${words} words) once`, () => sources.forEach((s) => s.before.forEach((t) => index.contaminates(t))));
  const rows = timed("the contamination table", () => contaminationRows(index, sources));
  console.log(`${index.size} distinct evaluation n-grams; per set (items, short items, n-grams):`);
  for (const s of index.sets) console.log(`  ${s.name.padEnd(20)} ${String(s.items).padStart(6)} ${String(s.shortItems).padStart(6)} ${String(s.ngrams).padStart(8)}`);
  console.log("removed training texts (eval set × source, non-zero only):");
  for (const r of rows.filter((x) => x.removed_items > 0))
    console.log(`  ${r.eval_set === ANY_EVAL_SET ? "ANY" : r.eval_set.padEnd(20)} ${r.train_source.padEnd(18)} ${r.removed_items} of ${r.train_items} (${r.matched_eval_items} eval items)`);
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
