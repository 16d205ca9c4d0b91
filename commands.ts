// The project's additions to the engine CLI: `acft data check|fetch` (data/cli.ts) and the global
// `--backend` flag (ml/backend.ts), which forked stage workers inherit through ACFT_BACKEND.
import { resolve } from "node:path";
import { PLANNING, type Command, type GlobalOption } from "./engine/Cli.ts";
import { UsageError } from "./engine/Errors.ts";
import { BACKENDS } from "./ml/backend.ts";

const errorMessage = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && typeof (e as { _tag?: unknown })._tag === "string" ? `${(e as { _tag: string })._tag}: ${(e as Error).message}` : undefined;

export const dataCommand: Command = {
  name: "data",
  summary: "validate datasets (check) or download the public ones (fetch); no --data-dir: the synthetic default",
  usage: "acft data check [--data-dir D] [--json] | acft data fetch --data-dir D [--only NAME]... [--mirror URL] [--retries N]",
  options: { "data-dir": { type: "string" }, only: { type: "string", multiple: true }, mirror: { type: "string" }, retries: { type: "string" } },
  positionals: 1,
  run: async (ctx) => {
    const { dataCheck, dataFetch, checkPassed } = await import("./data/cli.ts");
    const sub = ctx.positionals[0];
    const dataDir = (ctx.values["data-dir"] as string | undefined) ?? (process.env.ACFT_DATA_DIR || undefined);
    const log = (s: string) => ctx.out(s + "\n");
    try {
      if (sub === "check") return checkPassed(await dataCheck({ dataDir, json: ctx.json, log })) ? 0 : 1;
      if (sub === "fetch") {
        if (!dataDir) throw new UsageError({ message: "acft data fetch: pass --data-dir D (or set ACFT_DATA_DIR): where to put the datasets" });
        const retries = ctx.values.retries === undefined ? undefined : Number(ctx.values.retries);
        if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) throw new UsageError({ message: `--retries ${String(ctx.values.retries)}: expected an integer ≥ 0` });
        await dataFetch({ dataDir, only: ctx.values.only as string[] | undefined, mirror: ctx.values.mirror as string | undefined, retries, log });
        return 0;
      }
    } catch (e) {
      const msg = errorMessage(e);
      if (msg === undefined || (e as { _tag: string })._tag === "UsageError") throw e;
      ctx.err(`acft data ${sub}: ${msg}\n`);
      return 1;
    }
    throw new UsageError({ message: `acft data: expected "check" or "fetch", got ${sub === undefined ? "nothing" : `"${sub}"`}` });
  },
};

export const exportCommand: Command = {
  name: "export",
  summary: "write a model of a pipeline (its current cached result) as a Hugging Face directory: config.json, model.safetensors, tokenizer",
  usage: "acft export <pipeline> <instance> --out DIR [--set k=v]... [--model PATH] [--data-dir D] [--size S] [--seed N]",
  options: { ...PLANNING, out: { type: "string" } },
  positionals: 2,
  run: async (ctx) => {
    const [name, id] = ctx.positionals;
    if (!name || !id) throw new UsageError({ message: `acft export: name a pipeline and a model instance, e.g. \`acft export paper sft-model --out ./sft-hf\` (ids: acft dag <pipeline>)` });
    const out = ctx.values.out as string | undefined;
    if (!out) throw new UsageError({ message: "acft export: pass --out DIR, a new or empty directory for the Hugging Face files" });
    const p = ctx.plan(name);
    const node = p.byId.get(id) ?? p.nodes.find((n) => n.aliases.includes(id));
    if (!node || node.kind !== "stage")
      throw new UsageError({ message: `acft export: ${name} has no instance "${id}" (ids: acft dag ${name})` });
    const { status } = await import("./engine/Status.ts");
    const engine = ctx.engine();
    const st = status(engine, p).find((s) => s.id === node.id)!;
    if (st.status !== "cached" || !st.outputDigest)
      throw new UsageError({ message: `acft export: ${node.id} is not computed for these params (${st.reasons[0] ?? "stale"}); run \`acft run ${name} --only '${node.id}'\` with the same flags first` });
    const { exportHf } = await import("./stages/export.ts");
    const { files } = await exportHf(engine.store.dirPath(st.outputDigest), resolve(out));
    ctx.out(ctx.json ? JSON.stringify({ instance: node.id, out: resolve(out), files }) + "\n" : `exported ${node.id} to ${resolve(out)}: ${files.join(", ")}\n`);
    return 0;
  },
};

export const backendOption: GlobalOption = {
  name: "backend",
  type: "string",
  description: `tfjs backend for ML stages: ${BACKENDS.join(" | ")} (default auto; env ACFT_BACKEND)`,
  apply: (value) => {
    if (!(BACKENDS as readonly string[]).includes(String(value)))
      throw new UsageError({ message: `--backend ${String(value)}: expected one of ${BACKENDS.join(", ")}` });
    process.env.ACFT_BACKEND = String(value);
  },
};
