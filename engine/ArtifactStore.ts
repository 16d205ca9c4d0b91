// Content-addressed artifacts under <root>/store: written to a temp path, fsynced, renamed; checked against
// their digest before any reuse (an existing object that does not match is replaced, never built on).
import {
  closeSync, existsSync, fdatasyncSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync,
  rmSync, statSync, writeSync,
} from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { dirname, join, relative } from "node:path";
import { sha256 } from "./Canonical.ts";
import { ArtifactCorrupt, ExternalMissing, storeError } from "./Errors.ts";

export type ArtifactKind = "value" | "directory";

/** Cache of file hashes keyed by path + size + mtime + inode (the run DB implements it). */
export interface HashCache {
  readonly get: (path: string, stamp: string) => string | undefined;
  readonly put: (path: string, stamp: string, hash: string) => void;
}
export const noHashCache: HashCache = { get: () => undefined, put: () => {} };

const hashFile = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** sha256 of a file, looked up in `cache` by path + size + mtime + inode (any write changes the stamp). */
const hashFileCached = (path: string, cache: HashCache): string => {
  const st = statSync(path);
  const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
  let h = cache.get(path, stamp);
  if (h === undefined) cache.put(path, stamp, (h = hashFile(path)));
  return h;
};

/** Files under `dir`, as sorted paths relative to it. */
const listFiles = (dir: string): string[] =>
  (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .sort();

/** Digest of a directory: sha256 over "<relative path>\0<file sha256>\n" lines, sorted by path. */
export const digestDir = (dir: string, cache: HashCache = noHashCache): string => {
  const lines = listFiles(dir).map((rel) => `${rel}\0${hashFileCached(join(dir, rel), cache)}\n`);
  return sha256(`directory\n${lines.join("")}`);
};

/** Content digest of an external file or directory (data sets), cheap on reruns through `cache`. */
export const digestExternal = (path: string, cache: HashCache): string => {
  if (!existsSync(path))
    throw new ExternalMissing({ message: `external input ${path} does not exist; check the path (e.g. --data-dir)`, path });
  if (statSync(path).isDirectory()) return digestDir(path, cache);
  return sha256(`file\n${hashFileCached(path, cache)}`);
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

/**
 * `mkdir -p`. A recursive mkdir reports some failures (a read-only filesystem) as ENOENT: then the
 * missing levels are created one by one, which throws the real cause.
 */
export const makeDir = (path: string): void => {
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const missing: string[] = [];
    for (let p = path; !existsSync(p) && dirname(p) !== p; p = dirname(p)) missing.unshift(p);
    for (const m of missing) mkdirSync(m);
    throw e;
  }
};

/** Run `f` on the store's filesystem; a failure becomes a StoreError naming `path`. */
const onDisk = <A>(path: string, doing: string, f: () => A): A => {
  try {
    return f();
  } catch (e) {
    throw storeError(e, path, doing);
  }
};

export class ArtifactStore {
  readonly objects: string;
  readonly tmp: string;
  /** Digests checked against their content by this process (directories are hashed once per process). */
  private readonly verified = new Set<string>();

  /** `cache` (the run database's) makes re-verifying an unchanged file a stat and a lookup. */
  constructor(readonly root: string, private readonly cache: HashCache = noHashCache) {
    this.objects = join(root, "store", "objects");
    this.tmp = join(root, "store", "tmp");
    onDisk(this.objects, "create", () => makeDir(this.objects));
    onDisk(this.tmp, "create", () => makeDir(this.tmp));
  }

  path(kind: ArtifactKind, digest: string): string {
    return join(this.objects, digest.slice(0, 2), kind === "value" ? `${digest}.json` : `${digest}.dir`);
  }

  has(kind: ArtifactKind, digest: string): boolean {
    return existsSync(this.path(kind, digest));
  }

  /**
   * Whether the stored object exists and its content matches its digest. Files are re-hashed unless
   * their size, mtime and inode are those recorded when they were last hashed (any write changes them).
   */
  intact(kind: ArtifactKind, digest: string): boolean {
    if (this.verified.has(digest) && this.has(kind, digest)) return true;
    const p = this.path(kind, digest);
    let ok: boolean;
    try {
      ok = kind === "value" ? statSync(p).isFile() && hashFileCached(p, this.cache) === digest : statSync(p).isDirectory() && digestDir(p, this.cache) === digest;
    } catch {
      ok = false; // missing, or unreadable
    }
    if (ok) this.verified.add(digest);
    return ok;
  }

  /** A fresh private directory (named after this pid, so `gc` can remove those of dead processes). */
  scratch(): string {
    return onDisk(this.tmp, "create a scratch directory in", () => mkdtempSync(join(this.tmp, `${process.pid}-`)));
  }

  /**
   * Rename a finished temp path into place. The contents were fsynced before; the directory entry is not
   * (an fsync per artifact doubles the cost of trivial stages): if a power loss drops the rename, the cache
   * entry finds no artifact (`has`) and the instance is recomputed, never read half-written.
   * An object already at `final` is reused only when it matches its digest; a corrupt one is replaced by
   * the fresh output. Returns whether a corrupt object was replaced.
   */
  private publish(tmpPath: string, final: string, kind: ArtifactKind, digest: string): boolean {
    mkdirSync(dirname(final), { recursive: true });
    let replaced = false;
    if (existsSync(final)) {
      this.verified.delete(digest);
      if (this.intact(kind, digest)) return rmSync(tmpPath, { recursive: true, force: true }), false;
      this.discard(final);
      replaced = true;
    }
    try {
      renameSync(tmpPath, final);
    } catch (e) {
      // Another process published the same digest between the check and the rename (directories only).
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
      rmSync(tmpPath, { recursive: true, force: true });
    }
    this.verified.add(digest);
    return replaced;
  }

  /** Move an object out of the store's namespace (atomically), then delete it. */
  private discard(final: string): void {
    const aside = join(this.tmp, `${process.pid}-corrupt-${randomBytes(6).toString("hex")}`);
    try {
      renameSync(final, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // another process got there first
      throw e;
    }
    rmSync(aside, { recursive: true, force: true });
  }

  /** Store canonical JSON text; returns its digest and size, and whether a corrupt copy was replaced. */
  putValue(text: string): { digest: string; bytes: number; replaced: boolean } {
    const bytes = Buffer.from(text, "utf8");
    const digest = sha256(bytes);
    const final = this.path("value", digest);
    if (this.verified.has(digest) && existsSync(final)) return { digest, bytes: bytes.length, replaced: false };
    return onDisk(final, "write", () => {
      const tmpFile = join(this.tmp, `${process.pid}-${randomBytes(6).toString("hex")}.json`);
      try {
        const fd = openSync(tmpFile, "w");
        try {
          writeSync(fd, bytes);
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
        return { digest, bytes: bytes.length, replaced: this.publish(tmpFile, final, "value", digest) };
      } finally {
        rmSync(tmpFile, { force: true });
      }
    });
  }

  /** Move a finished output directory into the store (it must live under `tmp`). */
  putDirectory(dir: string): { digest: string; bytes: number; replaced: boolean } {
    return onDisk(dir, "publish", () => {
      for (const f of listFiles(dir)) fsyncPath(join(dir, f));
      const digest = digestDir(dir);
      const bytes = dirBytes(dir);
      return { digest, bytes, replaced: this.publish(dir, this.path("directory", digest), "directory", digest) };
    });
  }

  readValue(digest: string): string {
    const p = this.path("value", digest);
    if (!existsSync(p)) throw new ArtifactCorrupt({ message: `artifact ${digest} is missing from ${this.objects}`, digest });
    const bytes = readFileSync(p);
    if (sha256(bytes) !== digest)
      throw new ArtifactCorrupt({ message: `artifact ${p} does not match its digest`, digest });
    this.verified.add(digest);
    return bytes.toString("utf8");
  }

  /** Path of a directory artifact, its digest verified once per process. */
  dirPath(digest: string): string {
    const p = this.path("directory", digest);
    if (!existsSync(p)) throw new ArtifactCorrupt({ message: `artifact ${digest} is missing from ${this.objects}`, digest });
    if (!this.intact("directory", digest))
      throw new ArtifactCorrupt({ message: `artifact ${p} does not match its digest`, digest });
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

  /** Remove an object (unreferenced, or corrupt so that whatever produced it is recomputed). */
  remove(kind: ArtifactKind, digest: string): void {
    this.verified.delete(digest);
    this.discard(this.path(kind, digest));
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
