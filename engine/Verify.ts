// `verify`: re-hash every object in the store against its digest and run SQLite's integrity check on the
// run database. With `repair`, drop what is corrupt so that the next run recomputes it: corrupt objects
// are removed with the cache entries that point at them, and a corrupt database is moved aside (the next
// run starts a fresh one; every object still in the store is reused once it verifies).
import { existsSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { ArtifactStore, type ArtifactKind } from "./ArtifactStore.ts";
import { StoreError } from "./Errors.ts";
import { RunStore } from "./RunStore.ts";

export interface VerifyReport {
  /** Objects checked. */
  readonly objects: number;
  readonly corrupt: ReadonlyArray<{ readonly kind: ArtifactKind; readonly digest: string; readonly path: string }>;
  readonly database: {
    readonly path: string;
    /** Empty when `PRAGMA integrity_check` says ok (or there is no database yet). */
    readonly problems: ReadonlyArray<string>;
    /** Where a corrupt database was moved by `repair`. */
    readonly movedTo?: string;
    /** Cache entries dropped by `repair` because their object was corrupt or missing. */
    readonly droppedEntries: number;
  };
  readonly repaired: boolean;
}

const openDatabase = (root: string): { db?: RunStore; problems: string[] } => {
  if (!existsSync(join(root, "acft.sqlite"))) return { problems: [] };
  let db: RunStore;
  try {
    db = new RunStore(root);
  } catch (e) {
    if ((e as { _tag?: string })._tag !== "DatabaseError") throw e;
    return { problems: [(e as Error).message] };
  }
  let problems: string[];
  try {
    problems = db.integrityCheck().filter((r) => r !== "ok");
  } catch (e) {
    problems = [`integrity check failed: ${(e as Error).message}`];
  }
  return { db, problems };
};

export const verify = (root: string, repair: boolean, onProgress: (done: number, total: number) => void = () => {}): VerifyReport => {
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new StoreError({ message: `store ${root} does not exist or is not a directory: pass the store to check with --store`, path: root, code: "ENOENT" });
  const { db, problems } = openDatabase(root);
  try {
    // No hash cache: every file is read and hashed again.
    const store = new ArtifactStore(root);
    const all = store.list();
    const corrupt = all.filter((a, i) => (onProgress(i + 1, all.length), !store.intact(a.kind, a.digest)));
    let droppedEntries = 0;
    let movedTo: string | undefined;
    if (repair) {
      for (const c of corrupt) store.remove(c.kind, c.digest);
      if (db && problems.length === 0)
        for (const e of db.cacheEntries())
          if (corrupt.some((c) => c.digest === e.output_digest) || !store.has(e.output_kind, e.output_digest)) droppedEntries += db.cacheDeleteDigest(e.output_digest);
      if (problems.length > 0) {
        db?.close();
        movedTo = join(root, `acft.sqlite.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`);
        for (const suffix of ["", "-wal", "-shm"])
          if (existsSync(join(root, `acft.sqlite${suffix}`))) renameSync(join(root, `acft.sqlite${suffix}`), `${movedTo}${suffix}`);
      }
    }
    return {
      objects: all.length,
      corrupt: corrupt.map(({ kind, digest, path }) => ({ kind, digest, path })),
      database: { path: join(root, "acft.sqlite"), problems, movedTo, droppedEntries },
      repaired: repair,
    };
  } finally {
    if (db?.db.open) db.close();
  }
};
