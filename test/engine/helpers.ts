// Shared test helpers: temp stores and run shorthands.
import { spawn, type ChildProcess } from "node:child_process";
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

/** A CLI process started by a test, with its output so far and its exit. */
export interface Proc {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly done: Promise<number | null>;
}

/** Start `node --import tsx <cli> ...args` (a test fixture's CLI entry), collecting its output. */
export const startCli = (cli: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc => {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  const p: Proc = { child, stdout: "", stderr: "", done: new Promise((res) => child.on("exit", (code) => res(code))) };
  child.stdout!.on("data", (b) => (p.stdout += b));
  child.stderr!.on("data", (b) => (p.stderr += b));
  return p;
};

/** Poll `cond` every `pollMs` until it holds; fail naming `what` after `ms`. */
export const until = async (cond: () => boolean, what: string, ms = 90_000, pollMs = 50): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
};

/** The last line of a --json output, parsed. */
export const lastJson = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!);
