#!/usr/bin/env node
// Runs the test suite with node's built-in test runner (TypeScript through tsx).
// Usage: npm test [-- <path prefix>...]   e.g. `npm test -- test/engine`
// Opt-in long suites live in files named *.slow.test.ts and run only with ACFT_SLOW=1.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === "node_modules" || name === "fixtures") return [];
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
const slow = process.env.ACFT_SLOW === "1";
const filters = process.argv.slice(2);
const files = walk(join(root, "test"))
  .filter((f) => f.endsWith(".test.ts"))
  .filter((f) => slow || !f.endsWith(".slow.test.ts"))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.startsWith(x.replace(/^\.\//, ""))))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ") || "test/**/*.test.ts"}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...files], {
  cwd: root,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
