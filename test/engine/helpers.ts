// Shared test helpers: temp stores and run shorthands.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { plan } from "../../engine/Graph.ts";
import type { AnyPipeline } from "../../engine/Pipeline.ts";
import { Engine, type RunSummary } from "../../engine/Runner.ts";

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

export const tempDir = (prefix = "acft-test-"): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};

export const withEngine = async <A>(f: (e: Engine, root: string) => Promise<A>, root = tempDir()): Promise<A> => {
  const e = new Engine(root);
  try {
    return await f(e, root);
  } finally {
    e.close();
  }
};

export const runP = (e: Engine, p: AnyPipeline, overrides: string[] = [], jobs = 2): Promise<RunSummary> =>
  e.run(plan(p, { overrides }), { jobs });

/** `{ id: status }` of a run. */
export const statuses = (s: RunSummary): Record<string, string> => Object.fromEntries(s.instances.map((i) => [i.id, i.status]));
