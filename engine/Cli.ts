// The `acft` command line: `runCli(argv, { pipelines, commands, globalOptions })`. Other areas add
// command groups (`commands`) and global flags (`globalOptions`) without touching this file.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { ColumnTable } from "arquero";
import { dagMermaid, dagText } from "./Dag.ts";
import { isEngineError, quote, UnknownPipeline, UsageError } from "./Errors.ts";
import { gc } from "./Gc.ts";
import { verify } from "./Verify.ts";
import { plan, restrict, type Plan } from "./Graph.ts";
import { curvesSvg, groupPlot, sweepPlot } from "./Plot.ts";
import type { AnyPipeline } from "./Pipeline.ts";
import { formatSeconds, makeDisplay } from "./Progress.ts";
import { Engine } from "./Runner.ts";
import { EXECUTOR_OPTIONS, EXECUTOR_USAGE, executorFromFlags, jobLines, jobsNow } from "./ExecutorCli.ts";
import { PROVENANCE } from "./RunStore.ts";
import { status } from "./Status.ts";
import { asParams, describeParams, type ParamInfo } from "./Params.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

export interface CommandContext {
  /** The full command line given to runCli. */
  readonly argv: ReadonlyArray<string>;
  readonly root: string;
  readonly values: Values;
  readonly positionals: ReadonlyArray<string>;
  readonly json: boolean;
  readonly pipelines: ReadonlyMap<string, AnyPipeline>;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly tty: boolean;
  /** Open the store (creating it); the CLI closes it after the command. */
  readonly engine: () => Engine;
  /** Plan a pipeline named on the command line, with `--set` and the pipeline flags applied. */
  readonly plan: (name: string) => Plan;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options?: Options;
  /** How many positional arguments it takes after its name (default 0); more is a usage error. */
  readonly positionals?: number;
  /** Returns the exit code. */
  readonly run: (ctx: CommandContext) => Promise<number>;
}

/** A flag every command accepts (e.g. `--backend` from ml/); `apply` runs before the command. */
export interface GlobalOption {
  readonly name: string;
  readonly type: "string" | "boolean";
  readonly description: string;
  readonly apply: (value: string | boolean) => void;
}

export interface CliConfig {
  readonly pipelines: ReadonlyArray<AnyPipeline>;
  readonly commands?: ReadonlyArray<Command>;
  readonly globalOptions?: ReadonlyArray<GlobalOption>;
  /** Store root when neither --store nor ACFT_HOME is given. */
  readonly defaultStore?: string;
  readonly io?: { readonly out: (s: string) => void; readonly err: (s: string) => void; readonly tty: boolean };
}

const GLOBAL: Options = { store: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } };
/** Flags that plan a pipeline; the shortcuts map to pipeline params (`--data-dir D` = `--set <pipeline>.dataDir=D`). */
/** Flags that plan a pipeline (for commands that take one: `options: { ...PLANNING, … }`). */
export const PLANNING: Options = { set: { type: "string", multiple: true }, only: { type: "string", multiple: true }, "data-dir": { type: "string" }, seed: { type: "string" }, size: { type: "string" }, model: { type: "string" }, "judge-model": { type: "string" } };
const SHORTCUTS: Record<string, string> = { "data-dir": "dataDir", seed: "seed", size: "size", model: "model", "judge-model": "judgeModel" };

const pipelineArg = (ctx: CommandContext, cmd: string): string => {
  const name = ctx.positionals[0];
  if (!name) throw new UsageError({ message: `acft ${cmd}: name a pipeline (available: ${[...ctx.pipelines.keys()].join(", ")})` });
  return name;
};

const intFlag = (v: unknown, flag: string, min: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError({ message: `--${flag} ${String(v)}: expected an integer ≥ ${min}` });
  return n;
};

const runCommand: Command = {
  name: "run",
  summary: "run a pipeline, reusing cached results",
  usage: `acft run <pipeline> [--set k=v]... [--only GLOB]... [--jobs N] [--keep-going] [--dry-run] [--lock-timeout S] [--verbose] [--json] ${EXECUTOR_USAGE}`,
  options: { ...PLANNING, jobs: { type: "string", short: "j" }, "keep-going": { type: "boolean" }, "dry-run": { type: "boolean" },
    "lock-timeout": { type: "string" }, verbose: { type: "boolean", short: "v" }, ...EXECUTOR_OPTIONS },
  positionals: 1,
  run: async (ctx) => {
    const p = ctx.plan(pipelineArg(ctx, "run"));
    // Every flag is validated before anything runs, --dry-run included.
    const exec = executorFromFlags(ctx.values);
    const jobs = exec.jobs ?? intFlag(ctx.values.jobs, "jobs", 1);
    const lockTimeoutMs = (intFlag(ctx.values["lock-timeout"], "lock-timeout", 1) ?? 7200) * 1000;
    const engine = ctx.engine();
    if (ctx.values["dry-run"]) return printStatus(ctx, engine, p, true);
    const display = makeDisplay(ctx.json ? ctx.err : ctx.out, ctx.tty && !ctx.json, { verbose: Boolean(ctx.values.verbose) });
    const summary = await engine.run(p, {
      jobs,
      executor: exec.executor,
      retries: exec.retries,
      keepGoing: Boolean(ctx.values["keep-going"]),
      lockTimeoutMs,
      command: ctx.argv.join(" "),
      onEvent: display.onEvent,
    });
    display.close();
    const n = (s: string) => summary.instances.filter((i) => i.status === s).length;
    if (ctx.json) ctx.out(JSON.stringify({ runId: summary.runId, pipeline: summary.pipeline, instances: summary.instances.map(({ id, stage, status, seconds, error }) => ({ id, stage, status, seconds, ...(error ? { error } : {}) })) }) + "\n");
    else {
      for (const i of summary.instances.filter((i) => i.status === "failed")) ctx.err(`\n✗ ${i.id}:\n${i.error}\n`);
      ctx.out(`run ${summary.runId} (${summary.pipeline}): ${n("ran")} ran, ${n("cached")} cached, ${n("failed")} failed${n("skipped") ? `, ${n("skipped")} skipped` : ""} in ${formatSeconds(summary.seconds)}\n`);
    }
    return n("failed") + n("skipped") > 0 ? 1 : 0;
  },
};

const printStatus = (ctx: CommandContext, engine: Engine, p: Plan, explainAll: boolean, jobs?: unknown[]): number => {
  const st = status(engine, p);
  if (ctx.json) {
    ctx.out(JSON.stringify({ pipeline: p.pipeline, instances: st.map(({ id, stage, status, seconds, reasons }) => ({ id, stage, status, seconds, reasons })), ...(jobs ? { jobs } : {}) }) + "\n");
    return 0;
  }
  for (const s of st) {
    ctx.out(`${s.status === "cached" ? "· cached" : "○ stale "} ${s.id}\n`);
    if (explainAll && s.status === "stale") for (const r of s.reasons) ctx.out(`      ${r}\n`);
  }
  const stale = st.filter((s) => s.status === "stale").length;
  ctx.out(`${p.pipeline}: ${st.length - stale} cached, ${stale} stale\n`);
  return 0;
};

const statusCommand: Command = {
  name: "status",
  summary: "show which instances are cached or stale (--explain: why)",
  usage: "acft status <pipeline> [--set k=v]... [--only GLOB]... [--explain] [--json]",
  options: { ...PLANNING, explain: { type: "boolean" } },
  positionals: 1,
  run: async (ctx) => {
    const jobs = await jobsNow(ctx.engine());
    if (!ctx.json) ctx.out(jobLines(jobs));
    return printStatus(ctx, ctx.engine(), ctx.plan(pipelineArg(ctx, "status")), Boolean(ctx.values.explain), jobs);
  },
};

const dagCommand: Command = {
  name: "dag",
  summary: "print a pipeline's instance graph (text or Mermaid)",
  usage: "acft dag <pipeline> [--set k=v]... [--only GLOB]... [--format text|mermaid]",
  options: { ...PLANNING, format: { type: "string" } },
  positionals: 1,
  run: async (ctx) => {
    const f = (ctx.values.format as string | undefined) ?? "text";
    if (f !== "text" && f !== "mermaid") throw new UsageError({ message: `--format ${f}: expected text or mermaid` });
    const p = ctx.plan(pipelineArg(ctx, "dag"));
    ctx.out((f === "text" ? dagText(p) : dagMermaid(p)) + "\n");
    return 0;
  },
};

const runsCommand: Command = {
  name: "runs",
  summary: "list recent runs",
  usage: "acft runs [--limit N] [--json]",
  options: { limit: { type: "string" } },
  run: async (ctx) => {
    const rows = ctx.engine().db.runs(intFlag(ctx.values.limit, "limit", 1) ?? 20);
    if (ctx.json) return ctx.out(JSON.stringify({ runs: rows }) + "\n"), 0;
    for (const r of rows)
      ctx.out(`${String(r.run_id).padStart(5)}  ${r.started_at}  ${String(r.pipeline).padEnd(12)} ${String(r.status).padEnd(11)} ran ${r.n_ran ?? "-"} cached ${r.n_cached ?? "-"} failed ${r.n_failed ?? "-"}  ${r.seconds != null ? formatSeconds(Number(r.seconds)) : ""}\n`);
    return 0;
  },
};

/**
 * A table as Markdown for people: numbers to 3 decimals and, unless `all`, the provenance columns moved to one
 * line under the table (the CSV, JSON and SQLite rows keep every column).
 */
const readableMarkdown = (t: ColumnTable, all: boolean): string => {
  const names = t.columnNames();
  const prov = all ? [] : names.filter((c) => PROVENANCE.includes(c));
  const body = t.toMarkdown({ columns: names.filter((c) => !prov.includes(c)), maxdigits: 3 });
  if (prov.length === 0 || t.numRows() === 0) return body + "\n";
  const first = t.objects({ limit: 1 })[0] as Record<string, unknown>;
  const key = (v: unknown) => String(v ?? "").slice(0, 12);
  const runs = [...new Set(t.array("run_id") as unknown[])].join(", ");
  return `${body}\n_run ${runs} · instance ${String(first.instance_id ?? "")} · key ${key(first.cache_key)}… (\`--provenance\` or the CSV for every row's input keys)_\n`;
};

const tablesCommand: Command = {
  name: "tables",
  summary: "print result tables and export them to <store>/tables/<name>.md|.csv (+ .svg plots of sweep and by-group tables)",
  usage: "acft tables [--format md|csv|json] [--provenance]   (md and json leave run_id, instance_id, cache_key, source_keys out unless --provenance)",
  options: { format: { type: "string" }, provenance: { type: "boolean" } },
  run: async (ctx) => {
    const f = (ctx.values.format as string | undefined) ?? (ctx.json ? "json" : "md");
    if (!["md", "csv", "json"].includes(f)) throw new UsageError({ message: `--format ${f}: expected md, csv or json` });
    const tables = ctx.engine().db.tables();
    const aq = await import("arquero"); // only here: loading it costs ~0.1 s of every start-up
    const dir = join(ctx.root, "tables");
    mkdirSync(dir, { recursive: true });
    const plots: string[] = [];
    for (const [name, rows] of Object.entries(tables)) {
      const t = aq.from(rows);
      const md = readableMarkdown(t, Boolean(ctx.values.provenance));
      writeFileSync(join(dir, `${name}.md`), md);
      writeFileSync(join(dir, `${name}.csv`), t.toCSV() + "\n");
      const svg = sweepPlot(name, rows, PROVENANCE) ?? groupPlot(name, rows, PROVENANCE);
      if (svg) writeFileSync(join(dir, `${name}.svg`), svg), plots.push(name);
      if (f === "md") ctx.out(`## ${name}\n\n${md}\n`);
      if (f === "csv") ctx.out(`# ${name}\n${t.toCSV()}\n`);
    }
    // JSON, like Markdown, leaves the provenance columns out unless `--provenance` (CSV and SQLite keep them).
    const strip = (rows: readonly Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !PROVENANCE.includes(k))));
    if (f === "json") ctx.out(JSON.stringify(ctx.values.provenance ? tables : Object.fromEntries(Object.entries(tables).map(([k, rows]) => [k, strip(rows)]))) + "\n");
    else ctx.err(`${Object.keys(tables).length} table(s) exported to ${dir}${plots.length ? `; plots (svg): ${plots.join(", ")}` : ""}\n`);
    return 0;
  },
};

const gcCommand: Command = {
  name: "gc",
  summary: "remove artifacts no recent run or current pipeline plan references, abandoned checkpoints and old job logs",
  usage: "acft gc [--keep-runs N] [--dry-run]",
  options: { "keep-runs": { type: "string" }, "dry-run": { type: "boolean" } },
  run: async (ctx) => {
    const plans = [...ctx.pipelines.keys()].map((name) => ctx.plan(name));
    const r = gc(ctx.engine(), plans, intFlag(ctx.values["keep-runs"], "keep-runs", 0) ?? 10, Boolean(ctx.values["dry-run"]));
    if (ctx.json) ctx.out(JSON.stringify(r) + "\n");
    else ctx.out(`${ctx.values["dry-run"] ? "would remove" : "removed"} ${r.removed} artifact(s), kept ${r.kept}, freed ${(r.freedBytes / 1048576).toFixed(2)} MiB${r.staleLocks ? `, ${ctx.values["dry-run"] ? "would clear" : "cleared"} ${r.staleLocks} stale lock(s)` : ""}${r.checkpoints ? `, ${r.checkpoints} abandoned checkpoint(s)` : ""}${r.logs ? `, ${r.logs} old job log(s)` : ""}\n`);
    return 0;
  },
};

const plotCommand: Command = {
  name: "plot",
  summary: "plot a stepped metric (e.g. loss) of a pipeline's current instances as SVG curves, one panel each",
  usage: "acft plot <pipeline> <metric> [--set k=v]... [--only GLOB]... [--out FILE]",
  options: { ...PLANNING, out: { type: "string" } },
  positionals: 2,
  run: async (ctx) => {
    const name = pipelineArg(ctx, "plot");
    const metric = ctx.positionals[1];
    if (!metric) throw new UsageError({ message: "acft plot: name a metric after the pipeline, e.g. `acft plot paper loss`" });
    const p = ctx.plan(name);
    const db = ctx.engine().db;
    // The curve of each instance's newest cache entry: the training that produced what the plan would reuse.
    const curves = p.nodes.flatMap((n) => {
      const e = n.kind === "stage" ? db.lastForInstance(n.id) : undefined;
      const pts = e ? db.metricSeries(e.cache_key, metric) : [];
      return pts.length >= 2 ? [{ name: n.id, x: pts.map((q) => q.step), y: pts.map((q) => q.value) }] : [];
    });
    if (curves.length === 0)
      throw new UsageError({ message: `acft plot: no instance of ${name} has recorded a stepped metric "${metric}" in ${ctx.root} (run the pipeline first; training stages record "loss")` });
    const out = resolve((ctx.values.out as string | undefined) ?? join(ctx.root, "plots", `${name}-${metric.replace(/[^\w.-]/g, "_")}.svg`));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, curvesSvg(`${name}: ${metric}`, "step", curves));
    for (const c of curves) ctx.out(`${c.name.padEnd(32)} ${metric} ${c.y[0].toPrecision(4)} → ${c.y[c.y.length - 1].toPrecision(4)} over ${c.x.length} steps\n`);
    ctx.err(`${curves.length} curve(s) → ${out}\n`);
    return 0;
  },
};

const paramsCommand: Command = {
  name: "params",
  summary: "list the params a pipeline and its stages accept (--set keys), with types, defaults and descriptions",
  usage: "acft params <pipeline> [--json]",
  options: {},
  positionals: 1,
  run: async (ctx) => {
    const name = pipelineArg(ctx, "params");
    const p = ctx.plan(name);
    const groups: Array<[string, ParamInfo[]]> = [[name, describeParams(asParams(ctx.pipelines.get(name)!.params))]];
    const seen = new Set<string>();
    for (const n of p.nodes)
      if (n.kind === "stage" && !seen.has(n.stage.name)) seen.add(n.stage.name), groups.push([n.stage.name, describeParams(asParams(n.stage.params))]);
    if (ctx.json) return ctx.out(JSON.stringify(Object.fromEntries(groups)) + "\n"), 0;
    for (const [g, ps] of groups)
      for (const i of ps) ctx.out(`${`${g}.${i.name}`.padEnd(28)} ${i.type.padEnd(12)} default ${JSON.stringify(i.default)}  — ${i.description}\n`);
    return 0;
  },
};

const verifyCommand: Command = {
  name: "verify",
  summary: "check every store object against its digest and the run database's integrity (--repair: drop what is corrupt)",
  usage: "acft verify [--repair] [--json]",
  options: { repair: { type: "boolean" } },
  run: async (ctx) => {
    const r = verify(ctx.root, Boolean(ctx.values.repair), (done, total) => ctx.tty && !ctx.json && ctx.err(`\rverifying ${done}/${total} objects`));
    if (ctx.tty && !ctx.json) ctx.err("\r\x1b[K");
    if (ctx.json) ctx.out(JSON.stringify(r) + "\n");
    else {
      for (const c of r.corrupt) ctx.out(`✗ ${c.kind} ${c.path}: does not match its digest${r.repaired ? " (removed; its producers recompute on the next run)" : ""}\n`);
      for (const d of r.database.problems) ctx.out(`✗ ${r.database.path}: ${d}\n`);
      if (r.database.movedTo) ctx.out(`  moved the database aside to ${r.database.movedTo}; the next run rebuilds the cache from the verified store\n`);
      ctx.out(`${r.objects} object(s) checked, ${r.corrupt.length} corrupt; database ${r.database.problems.length === 0 ? "ok" : "corrupt"}` +
        `${r.repaired ? "; repaired" : r.corrupt.length + r.database.problems.length > 0 ? "; run `acft verify --repair` to drop what is corrupt" : ""}\n`);
    }
    return r.repaired || (r.corrupt.length === 0 && r.database.problems.length === 0) ? 0 : 1;
  },
};

export const builtinCommands: ReadonlyArray<Command> = [runCommand, statusCommand, dagCommand, paramsCommand, runsCommand, tablesCommand, plotCommand, gcCommand, verifyCommand];

const help = (commands: ReadonlyArray<Command>, globals: ReadonlyArray<GlobalOption>, pipelines: ReadonlyArray<AnyPipeline>): string =>
  [
    "acft — cached experiment pipelines",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.usage}\n      ${c.summary}`),
    "",
    "Global flags:",
    "  --store DIR    store root (default: $ACFT_HOME or results/)",
    "  --json         machine-readable output (one JSON object, printed last)",
    ...globals.map((g) => `  --${g.name}${g.type === "string" ? " V" : ""}    ${g.description}`),
    "",
    "Pipeline flags: --set <stage|instance|pipeline>.<param>=<value> (repeatable), --data-dir D, --seed N, --size S,",
    "                --only GLOB (repeatable: just the matching instance ids and what they read; * within a /-part, ** across)",
    "",
    `Pipelines: ${pipelines.map((p) => `${p.name} — ${p.description}`).join("\n           ")}`,
  ].join("\n") + "\n";

const isTagged = (e: unknown): e is { readonly _tag: string; readonly message: string } =>
  typeof e === "object" && e !== null && typeof (e as { _tag?: unknown })._tag === "string" && typeof (e as { message?: unknown }).message === "string";

/** Errors in the command as typed (exit 2); everything else that fails is a failed run (exit 1). */
const USAGE_TAGS = new Set(["UsageError", "UnknownPipeline", "UnknownOverrideKey", "DecodeError"]);

/**
 * Run the CLI; returns the exit code: 0 ok; 1 the command ran and failed (a stage, bad data, the store
 * or the run database); 2 the command line is wrong (unknown command, flag, pipeline or --set key, a
 * flag or --set value that does not decode, a missing or extra argument).
 */
export const runCli = async (argv: ReadonlyArray<string>, cfg: CliConfig): Promise<number> => {
  const io = cfg.io ?? { out: (s: string) => void process.stdout.write(s), err: (s: string) => void process.stderr.write(s), tty: Boolean(process.stdout.isTTY) };
  const commands = [...builtinCommands, ...(cfg.commands ?? [])];
  const globals = cfg.globalOptions ?? [];
  const pipelines = new Map(cfg.pipelines.map((p) => [p.name, p]));
  const allOptions: Options = Object.assign({}, GLOBAL, ...commands.map((c) => c.options ?? {}), ...globals.map((g) => ({ [g.name]: { type: g.type } })));
  const name = parseArgs({ args: [...argv], options: allOptions, allowPositionals: true, strict: false }).positionals[0];
  const cmd = commands.find((c) => c.name === name);
  if (name === undefined || cmd === undefined || argv.includes("--help") || argv.includes("-h")) {
    io[cmd || name === undefined ? "out" : "err"]((name && !cmd ? `acft: unknown command "${name}"\n\n` : "") + help(commands, globals, cfg.pipelines));
    return name && !cmd ? 2 : 0;
  }
  let engine: Engine | undefined;
  let json = argv.includes("--json");
  try {
    const options: Options = { ...GLOBAL, ...Object.fromEntries(globals.map((g) => [g.name, { type: g.type }])), ...cmd.options };
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError({ message: `${(e as Error).message}\nusage: ${cmd.usage}` });
    }
    const values = parsed.values as Values;
    json = Boolean(values.json);
    const extra = parsed.positionals.slice(1 + (cmd.positionals ?? 0));
    if (extra.length > 0)
      throw new UsageError({ message: `acft ${cmd.name}: unexpected argument${extra.length > 1 ? "s" : ""} ${extra.map((a) => quote(a)).join(" ")}\nusage: ${cmd.usage}` });
    for (const g of globals) if (values[g.name] !== undefined) g.apply(values[g.name] as string | boolean);
    const root = resolve((values.store as string | undefined) ?? process.env.ACFT_HOME ?? cfg.defaultStore ?? "results");
    const ctx: CommandContext = {
      argv, root, values, positionals: parsed.positionals.slice(1), json, pipelines, out: io.out, err: io.err, tty: io.tty,
      engine: () => (engine ??= new Engine(root)),
      plan: (pname) => {
        const p = pipelines.get(pname);
        if (!p) throw new UnknownPipeline({ message: `unknown pipeline "${pname}"; available: ${[...pipelines.keys()].join(", ")}`, name: pname, available: [...pipelines.keys()] });
        const shortcuts = Object.entries(SHORTCUTS).flatMap(([flag, param]) => (values[flag] !== undefined ? [`${pname}.${param}=${values[flag]}`] : []));
        return restrict(plan(p, { overrides: [...shortcuts, ...((values.set as string[] | undefined) ?? [])] }), (values.only as string[] | undefined) ?? []);
      },
    };
    return await cmd.run(ctx);
  } catch (e) {
    // Typed errors of any area (a `_tag` and a message) are the user's to fix: print them, no stack.
    if (!isEngineError(e) && !isTagged(e)) throw e;
    if (json) io.out(JSON.stringify({ error: { _tag: e._tag, message: e.message } }) + "\n");
    io.err(`acft: ${e.message}\n`);
    return USAGE_TAGS.has(e._tag) ? 2 : 1;
  } finally {
    engine?.close();
  }
};
