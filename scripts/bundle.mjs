// Precompiled start-up for `acft` (bin/acft.mjs) and its forked stage workers: one esbuild bundle of
// the project's TypeScript, cached under node_modules/.cache/acft/<digest>.mjs and rebuilt on the fly
// when any source changes. Plain JS, so it loads without tsx.
//
// - digest = sha256 over the checkout's absolute root, this file, esbuild's version, package-lock.json and
//   every project .ts file (path + bytes) outside node_modules/, test/, results/, build/ and dot-directories.
//   The root is part of it because the bundle embeds absolute paths (source URLs, the default store): a
//   copied or moved checkout, even with node_modules copied along, builds its own bundle.
// - Every such file is in the bundle, lazily (a registry of `() => import(file)`), keyed by its source
//   file URL: a forked worker runs the bundle with --acft-worker and finds a stage by (source URL, name).
// - `import.meta.url` / `dirname` / `filename` in project files become the *source* file's values, so
//   `stage.module`, source fingerprints and paths resolved next to a source file are the same as under tsx.
// - `effect` is bundled (tree-shaken: importing its barrel costs ~0.5 s per process); other npm packages
//   stay external. @tensorflow/* and better-sqlite3 (CommonJS) are loaded with require() when a module
//   needing them initialises (an ESM import of tfjs's CJS entry costs ~0.25 s more than require()).
// - Concurrent builders write <digest>.mjs.<pid>.tmp and rename it into place (atomic on one filesystem).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SELF = fileURLToPath(import.meta.url);
export const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const SKIP = new Set(["node_modules", "test", "results", "build"]);
/** Bundled instead of external (ESM, side-effect free). */
const BUNDLED = /^effect(\/|$)/;
/** External, loaded with require() on first use (CommonJS; native addons / wasm found next to the package). */
const REQUIRED = /^(@tensorflow\/[^/]+|better-sqlite3)(\/.*)?$/;
const KEEP_MS = 24 * 3600_000;

/** Project .ts files (absolute paths, sorted) that go into the bundle. */
export const sourceFiles = (root = ROOT) => {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith(".") || (dir === root && SKIP.has(e.name)) || e.name === "node_modules") continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
    }
  };
  walk(root);
  return out.sort();
};

const esbuildVersion = (root) => {
  try {
    return JSON.parse(readFileSync(createRequire(join(root, "package.json")).resolve("esbuild/package.json"), "utf8")).version;
  } catch {
    return "none";
  }
};

/** sha256 of everything the bundle is made from (~150 files: a few ms). */
export const sourceDigest = (root = ROOT, files = sourceFiles(root)) => {
  const h = createHash("sha256");
  h.update(`${root}\0${readFileSync(SELF)}\0${esbuildVersion(root)}\0`);
  const lock = join(root, "package-lock.json");
  if (existsSync(lock)) h.update(readFileSync(lock));
  for (const f of files) h.update(`\0${relative(root, f)}\0`).update(readFileSync(f));
  return h.digest("hex").slice(0, 32);
};

export const cacheDir = (root = ROOT) => join(root, "node_modules", ".cache", "acft");

/** The generated entry: the lazy module registry, worker mode, or the main module (ACFT_MAIN, default main.ts). */
const entrySource = (root, files) => {
  const rows = files.map((f) => `  ${JSON.stringify(pathToFileURL(f).href)}: () => import(${JSON.stringify(f)}),`);
  return `import { fileURLToPath, pathToFileURL } from "node:url";
import { resolve } from "node:path";
const modules = {
${rows.join("\n")}
};
const load = (url) => Object.hasOwn(modules, url) ? modules[url]() : Promise.reject(new Error("not in the acft bundle: " + url));
if (process.argv[2] === "--acft-worker") {
  const { serveJobs } = await import(${JSON.stringify(join(root, "engine", "Worker.ts"))});
  serveJobs(load);
} else if (process.argv[2] === "--acft-slurm-worker") {
  const { runStagedJob } = await import(${JSON.stringify(join(root, "engine", "Staging.ts"))});
  process.exitCode = await runStagedJob(load, process.argv[3]);
} else {
  const { useWorkerBundle } = await import(${JSON.stringify(join(root, "engine", "Runner.ts"))});
  useWorkerBundle({ entry: fileURLToPath(import.meta.url), has: (url) => Object.hasOwn(modules, url) });
  await load(pathToFileURL(resolve(${JSON.stringify(root)}, process.env.ACFT_MAIN || "main.ts")).href);
}
`;
};

/**
 * `import { Effect, Schema } from "effect"` -> `import * as Effect from "effect/Effect"; ...` (names
 * that are modules of effect; others stay on the barrel). Inside the bundle's lazily initialised
 * modules, importing the barrel would initialise all ~280 modules of effect (~70 ms per process).
 */
const effectModules = (code, root) =>
  code.replace(/^import \{([^}]*)\} from "effect";$/gm, (line, names) => {
    const all = names.split(",").map((n) => n.trim()).filter(Boolean);
    const isModule = (n) => /^[A-Z]\w*$/.test(n) && existsSync(join(root, "node_modules", "effect", "dist", "esm", `${n}.js`));
    const rest = all.filter((n) => !isModule(n));
    return all.filter(isModule).map((n) => `import * as ${n} from "effect/${n}";`).join(" ") + (rest.length ? ` import { ${rest.join(", ")} } from "effect";` : "");
  });

/** esbuild plugin: source-file import.meta values in project files; CJS packages via require(). */
const plugin = (esbuild, root) => ({
  name: "acft",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.namespace === "acft-require") return { path: args.path, external: true };
      if (REQUIRED.test(args.path)) return { path: args.path, namespace: "acft-require" };
      if (BUNDLED.test(args.path)) return undefined;
      return { path: args.path, external: true };
    });
    b.onLoad({ filter: /.*/, namespace: "acft-require" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
      resolveDir: root,
    }));
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes("/node_modules/")) return undefined;
      const url = pathToFileURL(args.path).href;
      const r = await esbuild.transform(readFileSync(args.path, "utf8"), {
        loader: "ts", format: "esm", target: "node20", sourcefile: args.path, sourcemap: "inline",
        define: {
          "import.meta.url": JSON.stringify(url),
          "import.meta.filename": JSON.stringify(args.path),
          "import.meta.dirname": JSON.stringify(join(args.path, "..")),
        },
      });
      return { contents: effectModules(r.code, root), loader: "js" };
    });
  },
});

/** Build the bundle into `out` (via a temp file + rename). Throws when esbuild is missing or fails. */
export const build = async (root, files, out) => {
  const esbuild = await import(createRequire(join(root, "package.json")).resolve("esbuild"));
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    await esbuild.build({
      stdin: { contents: entrySource(root, files), resolveDir: root, sourcefile: "acft-entry.mjs", loader: "js" },
      bundle: true, platform: "node", format: "esm", target: "node20", outfile: tmp, sourcemap: "linked",
      sourcesContent: false, logLevel: "silent", plugins: [plugin(esbuild, root)],
      banner: { js: 'import { createRequire as __acftRequire } from "node:module"; const require = __acftRequire(import.meta.url);' },
    });
    renameSync(`${tmp}.map`, `${out}.map`);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.map`, { force: true });
  }
};

/** Remove bundles of older sources not used for a day (a long run may still fork workers from its own). */
const prune = (dir, keep) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name.startsWith(keep)) continue;
    try {
      if (Date.now() - statSync(p).atimeMs > KEEP_MS && Date.now() - statSync(p).mtimeMs > KEEP_MS) rmSync(p, { force: true });
    } catch {
      /* removed by another process */
    }
  }
};

/**
 * The current bundle's path, built first when missing or stale; `undefined` (after `warn`) when it
 * cannot be built, so the caller falls back to tsx. ACFT_NO_BUNDLE=1 skips it.
 */
export const ensureBundle = async ({ root = ROOT, warn = (m) => process.stderr.write(m + "\n") } = {}) => {
  if (process.env.ACFT_NO_BUNDLE === "1") return undefined;
  try {
    const files = sourceFiles(root);
    const digest = sourceDigest(root, files);
    const dir = cacheDir(root);
    const out = join(dir, `${digest}.mjs`);
    if (existsSync(out)) return out;
    mkdirSync(dir, { recursive: true });
    await build(root, files, out);
    prune(dir, digest);
    return out;
  } catch (e) {
    warn(`[acft] could not precompile the sources (${String(e?.message ?? e).split("\n")[0]}); running them through tsx (slower start-up)`);
    return undefined;
  }
};
