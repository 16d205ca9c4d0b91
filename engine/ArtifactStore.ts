// Content-addressed artifacts under <root>/store: written to a temp path, fsynced, renamed; checked on read.
import {
  closeSync, existsSync, fdatasyncSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync,
  rmSync, statSync, writeSync,
} from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { dirname, join, relative } from "node:path";
import { sha256 } from "./Canonical.ts";
import { ArtifactCorrupt, ExternalMissing } from "./Errors.ts";

export type ArtifactKind = "value" | "directory";

/** Cache of file hashes keyed by path + size + mtime + inode (the run DB implements it). */
export interface HashCache {
  readonly get: (path: string, stamp: string) => string | undefined;
  readonly put: (path: string, stamp: string, hash: string) => void;
}
export const noHashCache: HashCache = { get: () => undefined, put: () => {} };

const hashFile = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Files under `dir`, as sorted paths relative to it. */
const listFiles = (dir: string): string[] =>
  (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .sort();

/** Digest of a directory: sha256 over "<relative path>\0<file sha256>\n" lines, sorted by path. */
export const digestDir = (dir: string, cache: HashCache = noHashCache): string => {
  const lines = listFiles(dir).map((rel) => {
    const p = join(dir, rel);
    const st = statSync(p);
    const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    let h = cache.get(p, stamp);
    if (h === undefined) cache.put(p, stamp, (h = hashFile(p)));
    return `${rel}\0${h}\n`;
  });
  return sha256(`directory\n${lines.join("")}`);
};

/** Content digest of an external file or directory (data sets), cheap on reruns through `cache`. */
export const digestExternal = (path: string, cache: HashCache): string => {
  if (!existsSync(path))
    throw new ExternalMissing({ message: `external input ${path} does not exist; check the path (e.g. --data-dir)`, path });
  const st = statSync(path);
  if (st.isDirectory()) return digestDir(path, cache);
  const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
  let h = cache.get(path, stamp);
  if (h === undefined) cache.put(path, stamp, (h = hashFile(path)));
  return sha256(`file\n${h}`);
};

const fsyncPath = (p: string): void => {
  const fd = openSync(p, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

const dirBytes = (dir: string): number => listFiles(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);

export class ArtifactStore {
  readonly objects: string;
  readonly tmp: string;
  private readonly verified = new Set<string>();

  constructor(readonly root: string) {
    this.objects = join(root, "store", "objects");
    this.tmp = join(root, "store", "tmp");
    mkdirSync(this.objects, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  path(kind: ArtifactKind, digest: string): string {
    return join(this.objects, digest.slice(0, 2), kind === "value" ? `${digest}.json` : `${digest}.dir`);
  }

  has(kind: ArtifactKind, digest: string): boolean {
    return existsSync(this.path(kind, digest));
  }

  /** A fresh private directory (named after this pid, so `gc` can remove those of dead processes). */
  scratch(): string {
    return mkdtempSync(join(this.tmp, `${process.pid}-`));
  }

  /**
   * Rename a finished temp path into place. The contents were fsynced before; the directory entry is not
   * (an fsync per artifact doubles the cost of trivial stages): if a power loss drops the rename, the cache
   * entry finds no artifact (`has`) and the instance is recomputed, never read half-written.
   */
  private publish(tmpPath: string, final: string): void {
    mkdirSync(dirname(final), { recursive: true });
    if (existsSync(final)) return rmSync(tmpPath, { recursive: true, force: true }); // same content already there
    try {
      renameSync(tmpPath, final);
    } catch (e) {
      // Another process published the same digest between the check and the rename (directories only).
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
      rmSync(tmpPath, { recursive: true, force: true });
    }
  }

  /** Store canonical JSON text; returns its digest and size. */
  putValue(text: string): { digest: string; bytes: number } {
    const bytes = Buffer.from(text, "utf8");
    const digest = sha256(bytes);
    const final = this.path("value", digest);
    if (existsSync(final)) return { digest, bytes: bytes.length };
    const tmpFile = join(this.tmp, `${process.pid}-${randomBytes(6).toString("hex")}.json`);
    const fd = openSync(tmpFile, "w");
    try {
      writeSync(fd, bytes);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.publish(tmpFile, final);
    return { digest, bytes: bytes.length };
  }

  /** Move a finished output directory into the store (it must live under `tmp`). */
  putDirectory(dir: string): { digest: string; bytes: number } {
    for (const f of listFiles(dir)) fsyncPath(join(dir, f));
    const digest = digestDir(dir);
    const bytes = dirBytes(dir);
    this.publish(dir, this.path("directory", digest));
    this.verified.add(digest);
    return { digest, bytes };
  }

  readValue(digest: string): string {
    const p = this.path("value", digest);
    if (!existsSync(p)) throw new ArtifactCorrupt({ message: `artifact ${digest} is missing from ${this.objects}`, digest });
    const bytes = readFileSync(p);
    if (sha256(bytes) !== digest)
      throw new ArtifactCorrupt({ message: `artifact ${p} does not match its digest; delete it and rerun`, digest });
    return bytes.toString("utf8");
  }

  /** Path of a directory artifact, its digest verified once per process. */
  dirPath(digest: string): string {
    const p = this.path("directory", digest);
    if (!existsSync(p)) throw new ArtifactCorrupt({ message: `artifact ${digest} is missing from ${this.objects}`, digest });
    if (!this.verified.has(digest)) {
      if (digestDir(p) !== digest)
        throw new ArtifactCorrupt({ message: `artifact ${p} does not match its digest; delete it and rerun`, digest });
      this.verified.add(digest);
    }
    return p;
  }

  /** Every stored artifact with its size. */
  list(): Array<{ kind: ArtifactKind; digest: string; bytes: number; path: string }> {
    if (!existsSync(this.objects)) return [];
    return readdirSync(this.objects).flatMap((shard) =>
      readdirSync(join(this.objects, shard)).map((name) => {
        const path = join(this.objects, shard, name);
        const kind: ArtifactKind = name.endsWith(".dir") ? "directory" : "value";
        const bytes = kind === "value" ? statSync(path).size : dirBytes(path);
        return { kind, digest: name.replace(/\.(json|dir)$/, ""), bytes, path };
      }),
    );
  }

  remove(kind: ArtifactKind, digest: string): void {
    rmSync(this.path(kind, digest), { recursive: true, force: true });
  }

  /** Remove scratch directories of processes that are gone (interrupted stages); returns bytes freed. */
  cleanScratch(alive: (pid: number) => boolean): number {
    let freed = 0;
    for (const name of readdirSync(this.tmp)) {
      const pid = Number(name.split("-")[0]);
      if (Number.isInteger(pid) && alive(pid)) continue;
      const p = join(this.tmp, name);
      freed += statSync(p).isDirectory() ? dirBytes(p) : statSync(p).size;
      rmSync(p, { recursive: true, force: true });
    }
    return freed;
  }
}

export const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};
