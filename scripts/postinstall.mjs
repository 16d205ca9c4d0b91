#!/usr/bin/env node
// Runs after `npm install`: makes the native pieces an explicit, checked step.
// 1. better-sqlite3 must load (npm may skip its install script; then we build it from source).
// Exits non-zero only when something required cannot be made to work.
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import { dirname } from "node:path";

const require = createRequire(import.meta.url);

function sqliteLoads() {
  try {
    const Database = require("better-sqlite3");
    new Database(":memory:").close();
    return true;
  } catch (e) {
    return e;
  }
}

let ok = sqliteLoads();
if (ok !== true) {
  console.log(`[acft] better-sqlite3 does not load (${ok.message.split("\n")[0]}); building it from source (~2 min)…`);
  const dir = dirname(require.resolve("better-sqlite3/package.json"));
  const gyp = require.resolve("node-gyp/bin/node-gyp.js", { paths: [dirname(process.execPath) + "/../lib/node_modules/npm"] });
  const r = spawnSync(process.execPath, [gyp, "rebuild", "--release"], { cwd: dir, stdio: "inherit" });
  ok = r.status === 0 ? sqliteLoads() : new Error(`node-gyp exited with ${r.status}`);
  if (ok !== true) {
    console.error(`[acft] could not build better-sqlite3: ${ok.message}\n` +
      "Install a C++ toolchain (python3, make, g++) and run `npm rebuild better-sqlite3`.");
    process.exit(1);
  }
}
console.log("[acft] better-sqlite3: ok");

// 2. The native fast CPU path (ml/fast, issue 7). Optional: when it cannot be built, acft falls
//    back to the stock wasm backend and says so; the install still succeeds.
const fast = spawnSync(process.execPath, [new URL("./build-native.mjs", import.meta.url).pathname], { stdio: "inherit" });
if (fast.status !== 0) {
  console.warn("[acft] continuing without the native fast path: training will use tfjs-wasm (several times slower).\n" +
    "       Fix the toolchain (python3, make, g++) and run `node scripts/build-native.mjs`.");
}

// 3. The precompiled bundle `acft` starts from (scripts/bundle.mjs). Optional: bin/acft.mjs builds
//    it on first use anyway, and falls back to tsx when it cannot be built.
const { ensureBundle } = await import("./bundle.mjs");
if ((await ensureBundle({ warn: (m) => console.warn(m) })) !== undefined) console.log("[acft] precompiled start-up bundle: ok");
