// The forked stage worker's loop: receives one Job over IPC, streams progress/metrics/tables back,
// replies with the result, exits. Exits at once if the parent goes away. Entry points: workerMain.ts
// (under tsx: imports the stage's source module) and the precompiled bundle (scripts/bundle.mjs, which
// passes its registry of bundled modules as `load`).
import { executeStage, type Job } from "./Exec.ts";
import { isStage, type AnyStage } from "./Stage.ts";

export type ToWorker = { readonly t: "run"; readonly job: Job };
export type FromWorker =
  | { readonly t: "progress"; readonly done: number; readonly total: number; readonly label?: string }
  | { readonly t: "metric"; readonly name: string; readonly value: number; readonly step?: number }
  | { readonly t: "log"; readonly message: string }
  | { readonly t: "table"; readonly name: string; readonly rows: ReadonlyArray<Record<string, unknown>> }
  | { readonly t: "done"; readonly text?: string }
  | { readonly t: "error"; readonly tag: string; readonly message: string; readonly detail: string };

const send = (m: FromWorker): Promise<void> => new Promise((res) => process.send!(m, undefined, {}, () => res()));

/** Imports a stage module given its source file URL. */
export type ModuleLoader = (moduleUrl: string) => Promise<unknown>;

export const findStage = async (load: ModuleLoader, moduleUrl: string, name: string): Promise<AnyStage> => {
  const mod = (await load(moduleUrl)) as Record<string, unknown>;
  const stage = Object.values(mod).find((v) => isStage(v) && v.name === name);
  if (!stage) throw new Error(`module ${moduleUrl} does not export a stage named "${name}"; export the stage value`);
  return stage as AnyStage;
};

export const serveJobs = (load: ModuleLoader): void => {
  process.on("disconnect", () => process.exit(1));
  process.on("message", (m: ToWorker) => void runJob(load, m));
};

const runJob = async (load: ModuleLoader, m: ToWorker): Promise<void> => {
  try {
    const stage = await findStage(load, m.job.moduleUrl, m.job.stageName);
    const r = await executeStage(stage, m.job, {
      progress: (done, total, label) => void send({ t: "progress", done, total, label }),
      metric: (name, value, step) => void send({ t: "metric", name, value, step }),
      log: (message) => void send({ t: "log", message }),
      table: (name, rows) => void send({ t: "table", name, rows }),
    });
    await send({ t: "done", text: r.text });
  } catch (e) {
    const err = e as { _tag?: string; message?: string; detail?: string; stack?: string };
    await send({ t: "error", tag: err._tag ?? "Error", message: err.message ?? String(e), detail: err.detail ?? err.stack ?? String(e) });
  }
  process.exit(0);
};
