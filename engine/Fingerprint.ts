// Source fingerprint: sha256 of a stage module and the project-local modules it imports, transitively.
// Only relative specifiers are followed (node_modules are pinned by the lockfile); the engine's own
// directory is not, so an engine refactor does not invalidate every cached result.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256 } from "./Canonical.ts";

const ENGINE_DIR = dirname(fileURLToPath(import.meta.url));
const SPECIFIER = /\b(?:import|export)\s[^'"`;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bimport\s+["']([^"']+)["']/g;

interface FileInfo {
  readonly stamp: string;
  readonly hash: string;
  readonly imports: ReadonlyArray<string>;
}
const memo = new Map<string, FileInfo>();

/** Relative import specifiers of a source text, resolved to absolute paths. */
export const localImports = (source: string, file: string): string[] => {
  const out: string[] = [];
  for (const m of source.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec && (spec.startsWith("./") || spec.startsWith("../"))) out.push(resolve(dirname(file), spec));
  }
  return out;
};

const readInfo = (file: string): FileInfo => {
  const st = statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const hit = memo.get(file);
  if (hit && hit.stamp === stamp) return hit;
  const text = readFileSync(file, "utf8");
  const info = { stamp, hash: sha256(text), imports: localImports(text, file) };
  memo.set(file, info);
  return info;
};

const projectRoot = (file: string): string => {
  for (let d = dirname(file); d !== dirname(d); d = dirname(d)) if (existsSync(join(d, "package.json"))) return d;
  return dirname(file);
};

/** `{ "<path relative to the project root>": sha256 }` for the module and its local imports. */
export const fingerprint = (moduleUrl: string): Record<string, string> => {
  const entry = fileURLToPath(moduleUrl);
  const root = projectRoot(entry);
  const files: Record<string, string> = {};
  const stack = [entry];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const rel = relative(root, file);
    if (!existsSync(file)) {
      files[rel] = "missing";
      continue;
    }
    const info = readInfo(file);
    files[rel] = info.hash;
    for (const dep of info.imports) if (!dep.startsWith(ENGINE_DIR + "/") && !dep.includes("/node_modules/")) stack.push(dep);
  }
  return files;
};
