#!/usr/bin/env node
// Builds and checks the fast CPU path's N-API addon (ml/fast/native -> build/Release/acft_fast.node).
//   node scripts/build-native.mjs            build (node-gyp, -O3 -march=native), then check it
//   node scripts/build-native.mjs --check    only check that the built addon loads and computes
// Env: ACFT_MARCH=x86-64-v3 (or any -march value) for a build that runs on other CPUs than this one;
//      ACFT_SKIP_NATIVE=1 skips the build (acft then falls back to the stock wasm backend).
// Exits 0 when the addon works, 1 otherwise (scripts/postinstall.mjs turns 1 into a warning).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = join(root, "ml", "fast", "native");
const addon = join(nativeDir, "build", "Release", "acft_fast.node");
const require = createRequire(import.meta.url);

/** Loads the addon in a child process and checks a tiny product, GELU and the thread pool. */
const check = () => {
  const code = `
    const n = require(${JSON.stringify(addon)});
    const a = Float32Array.of(1, 2, 3, 4), b = Float32Array.of(5, 6, 7, 8), c = new Float32Array(4);
    n.gemm(a, b, c, 1, 2, 2, 2, 0, 0, 0, 0);
    if (c.join() !== "19,22,43,50") throw new Error("gemm gave " + c.join());
    const y = new Float32Array(1); n.geluFwd(Float32Array.of(1), y);
    if (Math.abs(y[0] - 0.8411920) > 1e-6) throw new Error("gelu(1) gave " + y[0]);
    console.log(n.isa() + ", " + n.numThreads() + " threads");`;
  const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8" });
  return r.status === 0 ? { ok: true, info: r.stdout.trim() } : { ok: false, info: (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" ") };
};

const nodeGyp = () => {
  const npmDir = join(dirname(process.execPath), "..", "lib", "node_modules", "npm");
  try {
    return require.resolve("node-gyp/bin/node-gyp.js", { paths: [npmDir, root] });
  } catch {
    return null;
  }
};

const build = () => {
  const gyp = nodeGyp();
  if (!gyp) return "node-gyp not found (it ships with npm; install npm or `npm i -g node-gyp`)";
  // Local headers (Debian's nodejs-dev, or a tarball install) avoid downloading them.
  const prefix = join(dirname(process.execPath), "..");
  const args = [gyp, "rebuild", "--release"];
  if (existsSync(join(prefix, "include", "node", "node_api.h"))) args.push(`--nodedir=${prefix}`);
  console.log(`[acft] building the native fast path (ml/fast/native, -march=${process.env.ACFT_MARCH || "native"}) ...`);
  const r = spawnSync(process.execPath, args, { cwd: nativeDir, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").filter((l) => /error|ERR!/.test(l)).slice(-6).join("\n");
    return `node-gyp exited with ${r.status}:\n${tail}\n(needs python3, make and g++)`;
  }
  return null;
};

const main = () => {
  if (process.env.ACFT_SKIP_NATIVE === "1") {
    console.log("[acft] ACFT_SKIP_NATIVE=1: native fast path not built; acft will use the stock wasm backend");
    return 1;
  }
  if (!process.argv.includes("--check")) {
    const err = build();
    if (err) {
      console.error(`[acft] native fast path NOT built: ${err}`);
      return 1;
    }
  }
  const r = check();
  if (!r.ok) {
    console.error(`[acft] native fast path built but does not work: ${r.info}\nRebuild with \`node scripts/build-native.mjs\`.`);
    return 1;
  }
  console.log(`[acft] native fast path: ok (${r.info})`);
  return 0;
};

process.exit(main());
