// The project's additions to the engine CLI: `acft data check|fetch` (data/cli.ts) and the global
// `--backend` flag (ml/backend.ts), which forked stage workers inherit through ACFT_BACKEND.
import type { Command, GlobalOption } from "./engine/Cli.ts";
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
