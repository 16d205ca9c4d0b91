// acft command-line entry point: the engine's CLI with this project's pipelines, the `data` command
// group and the global `--backend` flag.
import { fileURLToPath } from "node:url";
import { runCli } from "./engine/Cli.ts";
import { backendOption, dataCommand, exportCommand } from "./commands.ts";
import { pipelines } from "./pipelines/index.ts";

process.exitCode = await runCli(process.argv.slice(2), {
  pipelines,
  commands: [dataCommand, exportCommand],
  globalOptions: [backendOption],
  defaultStore: fileURLToPath(new URL("./results", import.meta.url)),
});
