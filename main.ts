// acft command-line entry point: the engine's CLI with this project's pipelines (and, later, extra commands).
import { fileURLToPath } from "node:url";
import { runCli } from "./engine/Cli.ts";
import { pipelines } from "./pipelines/index.ts";

process.exitCode = await runCli(process.argv.slice(2), { pipelines, defaultStore: fileURLToPath(new URL("./results", import.meta.url)) });
