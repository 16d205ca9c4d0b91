// acft command-line entry point (wired up by the engine's CLI).
console.error("acft: the CLI is not built yet");
process.exit(1);
