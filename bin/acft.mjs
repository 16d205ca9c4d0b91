#!/usr/bin/env node
// Entry point for `npx acft` / `npm start`: runs the precompiled bundle of the TypeScript sources
// (scripts/bundle.mjs; rebuilt on the fly when a source changed), or, when it cannot be built (or
// ACFT_NO_BUNDLE=1), the sources through tsx. ACFT_MAIN=<path from the repo root> runs another module
// (e.g. bench/engineCli.ts) the same way. ACFT_SOURCE_MAPS=1 maps stack traces to the .ts sources
// (off by default: effect reads Error().stack while loading, and mapping it costs ~0.1 s per process).
import { ensureBundle, ROOT } from "../scripts/bundle.mjs";

const bundle = await ensureBundle();
if (bundle !== undefined) {
  if (process.env.ACFT_SOURCE_MAPS === "1") process.setSourceMapsEnabled(true);
  await import(bundle);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { pathToFileURL } = await import("node:url");
  await import(pathToFileURL(`${ROOT}/${process.env.ACFT_MAIN || "main.ts"}`).href);
}
