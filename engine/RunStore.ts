// The run database (SQLite, WAL): runs, executions, cache entries, metrics, result tables, locks.
// Tables and columns are named for people reading them with the plain `sqlite3` CLI.
import Database from "better-sqlite3";
import { hostname } from "node:os";
import { join } from "node:path";
import type { HashCache } from "./ArtifactStore.ts";
import { DatabaseError, DefinitionError, boundText } from "./Errors.ts";
import type { Row } from "./Stage.ts";

const MIGRATIONS: ReadonlyArray<string> = [
  `CREATE TABLE runs (
     run_id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL, command TEXT NOT NULL,
     pid INTEGER, host TEXT, started_at TEXT NOT NULL, finished_at TEXT,
     status TEXT NOT NULL DEFAULT 'running', n_ran INTEGER, n_cached INTEGER, n_failed INTEGER, seconds REAL);
   CREATE TABLE executions (
     run_id INTEGER NOT NULL REFERENCES runs(run_id), instance_id TEXT NOT NULL, stage TEXT NOT NULL,
     cache_key TEXT, key_parts TEXT, status TEXT NOT NULL, started_at TEXT, finished_at TEXT, seconds REAL,
     output_digest TEXT, error TEXT, PRIMARY KEY (run_id, instance_id));
   CREATE TABLE cache (
     cache_key TEXT PRIMARY KEY, stage TEXT NOT NULL, instance_id TEXT NOT NULL, key_parts TEXT NOT NULL,
     output_kind TEXT NOT NULL, output_digest TEXT NOT NULL, output_bytes INTEGER, tables TEXT,
     run_id INTEGER, created_at TEXT NOT NULL, seconds REAL);
   CREATE INDEX cache_by_instance ON cache(instance_id, created_at);
   CREATE TABLE metrics (
     run_id INTEGER NOT NULL, instance_id TEXT NOT NULL, cache_key TEXT, name TEXT NOT NULL,
     value REAL, step INTEGER, recorded_at TEXT NOT NULL);
   CREATE INDEX metrics_by_run ON metrics(run_id, instance_id);
   CREATE TABLE result_tables (name TEXT PRIMARY KEY, columns TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE TABLE file_digests (path TEXT PRIMARY KEY, stamp TEXT NOT NULL, sha256 TEXT NOT NULL);
   CREATE TABLE locks (
     cache_key TEXT PRIMARY KEY, instance_id TEXT, pid INTEGER, host TEXT, token TEXT,
     acquired_at TEXT, heartbeat_ms INTEGER);`,
  // Batch jobs of the slurm executor (JobStore.ts): a restarted head re-attaches to them by cache key.
  `CREATE TABLE jobs (
     executor TEXT NOT NULL, job_id TEXT NOT NULL, run_id INTEGER NOT NULL, instance_id TEXT NOT NULL, cache_key TEXT NOT NULL,
     staging TEXT NOT NULL, log TEXT NOT NULL, state TEXT NOT NULL, node TEXT, reason TEXT, exit_code INTEGER,
     submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (executor, job_id));
   CREATE INDEX jobs_by_key ON jobs(cache_key, submitted_at);`,
];

/** Engine tables; result tables may not take these names. */
const RESERVED = new Set(["runs", "executions", "cache", "metrics", "result_tables", "file_digests", "locks", "schema_migrations", "jobs"]);
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Columns every result-table row carries: which run, instance and key produced it, and its inputs' keys. */
export const PROVENANCE: ReadonlyArray<string> = ["run_id", "instance_id", "cache_key", "source_keys"];

export interface CacheEntry {
  readonly cache_key: string;
  readonly stage: string;
  readonly instance_id: string;
  readonly key_parts: string;
  readonly output_kind: "value" | "directory";
  readonly output_digest: string;
  readonly output_bytes: number;
  readonly tables: string | null;
  readonly run_id: number;
  readonly created_at: string;
  readonly seconds: number | null;
}

export interface TableEmit {
  readonly name: string;
  readonly rows: ReadonlyArray<Row>;
}

export interface Holder {
  readonly instance_id: string;
  readonly pid: number;
  readonly host: string;
  readonly heartbeat_ms: number;
}

const now = () => new Date().toISOString();

/** How long a lock held from another host may go without a heartbeat before it counts as abandoned. */
export const STALE_LOCK_MS = 30_000;

/**
 * A lock holder is gone when, on this host, its pid is gone (or its heartbeat is 10× overdue: a recycled
 * pid); on another host when its heartbeat is older than `staleMs`.
 */
const holderGone = (h: Holder, alive: (pid: number) => boolean, staleMs: number): boolean => {
  const age = Date.now() - h.heartbeat_ms;
  return h.host === hostname() ? !alive(h.pid) || age > 10 * staleMs : age > staleMs;
};

const SQLITE_ADVICE: Array<[RegExp, string]> = [
  [/^SQLITE_(NOTADB|CORRUPT)/, "it is not an SQLite database or it is corrupt: run `acft verify --repair` (it moves the file aside; the next run rebuilds the cache, reusing every store object that still matches its digest), or restore it from a backup"],
  [/^SQLITE_FULL/, "the disk is full: free space, or point --store at another disk"],
  [/^SQLITE_READONLY/, "it is read-only (file, directory or filesystem): point --store (or ACFT_HOME) at a writable directory"],
  [/^SQLITE_CANTOPEN/, "it cannot be opened or created: check that its directory exists and is writable, or point --store elsewhere"],
  [/^SQLITE_(IOERR|PERM|AUTH)/, "the disk refused a read or write: check the filesystem, or point --store elsewhere"],
];

/** An SQLite failure as a DatabaseError naming the file and what to do; other errors pass through. */
export const databaseError = (e: unknown, path: string, doing: string): unknown => {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return e;
  const advice = SQLITE_ADVICE.find(([re]) => re.test(code))?.[1] ?? `SQLite said: ${(e as Error).message}`;
  return new DatabaseError({ message: `run database ${path}: cannot ${doing} (${code}): ${advice}`, path, code });
};
const q = (id: string) => `"${id.replace(/"/g, '""')}"`;

export class RunStore {
  readonly db: Database.Database;

  readonly path: string;

  constructor(root: string | ":memory:") {
    this.path = root === ":memory:" ? root : join(root, "acft.sqlite");
    let db: Database.Database | undefined;
    try {
      db = new Database(this.path);
      db.pragma("busy_timeout = 15000"); // first: switching to WAL must wait for a concurrent opener too
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      this.db = db;
      this.migrate();
    } catch (e) {
      db?.close();
      throw databaseError(e, this.path, "open");
    }
  }

  /** `PRAGMA integrity_check`: "ok", or the problems SQLite found. */
  integrityCheck(): string[] {
    return (this.db.pragma("integrity_check") as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
  }

  private migrate(): void {
    this.db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
    const tx = this.db.transaction(() => {
      const have = (this.db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as { v: number | null }).v ?? 0;
      MIGRATIONS.forEach((sql, i) => {
        if (i + 1 <= have) return;
        this.db.exec(sql);
        this.db.prepare("INSERT INTO schema_migrations VALUES (?, ?)").run(i + 1, now());
      });
    });
    tx.immediate();
  }

  close(): void {
    this.db.close();
  }

  // ---- runs and executions ----
  startRun(pipeline: string, command: string): number {
    return Number(
      this.db.prepare("INSERT INTO runs (pipeline, command, pid, host, started_at) VALUES (?, ?, ?, ?, ?)")
        .run(pipeline, command, process.pid, hostname(), now()).lastInsertRowid,
    );
  }

  finishRun(runId: number, s: { status: string; ran: number; cached: number; failed: number; seconds: number }): void {
    this.db.prepare("UPDATE runs SET finished_at=?, status=?, n_ran=?, n_cached=?, n_failed=?, seconds=? WHERE run_id=?")
      .run(now(), s.status, s.ran, s.cached, s.failed, s.seconds, runId);
  }

  markRunInterrupted(runId: number): void {
    this.db.prepare("UPDATE runs SET status='interrupted', finished_at=? WHERE run_id=?").run(now(), runId);
    this.db.prepare("UPDATE executions SET status='interrupted' WHERE run_id=? AND status='running'").run(runId);
  }

  /** Mark runs (and their executions) of dead processes on this host as interrupted. */
  markInterrupted(alive: (pid: number) => boolean): void {
    const rows = this.db.prepare("SELECT run_id, pid FROM runs WHERE status='running' AND host=?").all(hostname()) as Array<{ run_id: number; pid: number }>;
    for (const r of rows.filter((r) => !alive(r.pid))) this.markRunInterrupted(r.run_id);
  }

  recordExecution(e: {
    runId: number; instanceId: string; stage: string; key?: string; keyParts?: unknown; status: string;
    startedAt?: string; seconds?: number; outputDigest?: string; error?: string;
  }): void {
    this.db.prepare(
      `INSERT OR REPLACE INTO executions (run_id, instance_id, stage, cache_key, key_parts, status, started_at, finished_at, seconds, output_digest, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      e.runId, e.instanceId, e.stage, e.key ?? null, e.keyParts === undefined ? null : JSON.stringify(e.keyParts), e.status,
      e.startedAt ?? now(), e.status === "running" ? null : now(), e.seconds ?? null, e.outputDigest ?? null,
      e.error === undefined ? null : boundText(e.error),
    );
  }

  metric(runId: number, instanceId: string, key: string, name: string, value: number, step?: number): void {
    this.db.prepare("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?)").run(runId, instanceId, key, name, value, step ?? null, now());
  }

  // ---- cache ----
  /** The stepped values of metric `name` recorded by the execution that produced cache entry `key`, by step. */
  metricSeries(key: string, name: string): Array<{ step: number; value: number }> {
    return this.db.prepare("SELECT step, value FROM metrics WHERE cache_key=? AND name=? AND step IS NOT NULL ORDER BY step, rowid")
      .all(key, name) as Array<{ step: number; value: number }>;
  }

  cacheGet(key: string): CacheEntry | undefined {
    return this.db.prepare("SELECT * FROM cache WHERE cache_key=?").get(key) as CacheEntry | undefined;
  }

  cacheDelete(key: string): void {
    this.db.prepare("DELETE FROM cache WHERE cache_key=?").run(key);
  }

  /** Drop every cache entry whose output is `digest` (a corrupt object: its producers must recompute). */
  cacheDeleteDigest(digest: string): number {
    return this.db.prepare("DELETE FROM cache WHERE output_digest=?").run(digest).changes;
  }

  /** The newest cache entry of an instance id (what `status --explain` compares against). */
  lastForInstance(instanceId: string): CacheEntry | undefined {
    return this.db.prepare("SELECT * FROM cache WHERE instance_id=? ORDER BY created_at DESC, rowid DESC LIMIT 1").get(instanceId) as CacheEntry | undefined;
  }

  /** The newest cache entry of any instance of `stage` (ids derived from params change with them). */
  lastForStage(stage: string): CacheEntry | undefined {
    return this.db.prepare("SELECT * FROM cache WHERE stage=? ORDER BY created_at DESC, rowid DESC LIMIT 1").get(stage) as CacheEntry | undefined;
  }

  /** Record a success atomically: cache entry, result tables and the execution row. */
  commitSuccess(e: {
    runId: number; instanceId: string; stage: string; key: string; keyParts: unknown; kind: "value" | "directory";
    digest: string; bytes: number; tables: ReadonlyArray<TableEmit>; sourceKeys: unknown; startedAt: string; seconds: number;
  }): void {
    this.db.transaction(() => {
      this.db.prepare("INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").run(
        e.key, e.stage, e.instanceId, JSON.stringify(e.keyParts), e.kind, e.digest, e.bytes,
        e.tables.length > 0 ? JSON.stringify({ sourceKeys: e.sourceKeys, tables: e.tables }) : null, e.runId, now(), e.seconds,
      );
      for (const t of e.tables) this.writeTable(t, { runId: e.runId, instanceId: e.instanceId, key: e.key, sourceKeys: e.sourceKeys });
      this.recordExecution({ runId: e.runId, instanceId: e.instanceId, stage: e.stage, key: e.key, keyParts: e.keyParts,
        status: "ran", startedAt: e.startedAt, seconds: e.seconds, outputDigest: e.digest });
    })();
  }

  /** On a cache hit, make sure the result tables hold this instance's rows for this key. */
  restoreTables(entry: CacheEntry, instanceId: string): void {
    if (entry.tables === null) return;
    const { sourceKeys, tables } = JSON.parse(entry.tables) as { sourceKeys: unknown; tables: TableEmit[] };
    this.db.transaction(() => {
      for (const t of tables) {
        const have = this.tableExists(t.name) &&
          this.db.prepare(`SELECT 1 FROM ${q(t.name)} WHERE instance_id=? AND cache_key=? LIMIT 1`).get(instanceId, entry.cache_key);
        if (!have) this.writeTable(t, { runId: entry.run_id, instanceId, key: entry.cache_key, sourceKeys });
      }
    })();
  }

  // ---- result tables ----
  private tableExists(name: string): boolean {
    return this.db.prepare("SELECT 1 FROM result_tables WHERE name=?").get(name) !== undefined;
  }

  private writeTable(t: TableEmit, prov: { runId: number; instanceId: string; key: string; sourceKeys: unknown }): void {
    if (!IDENT.test(t.name) || RESERVED.has(t.name))
      throw new DefinitionError({ message: `result table name "${t.name}" must match ${IDENT} and not be one of ${[...RESERVED].join(", ")}` });
    const cols = [...new Set(t.rows.flatMap((r) => Object.keys(r)))];
    for (const c of cols)
      if (!IDENT.test(c) || PROVENANCE.includes(c))
        throw new DefinitionError({ message: `result table ${t.name}: column "${c}" must match ${IDENT} and not be one of ${PROVENANCE.join(", ")}` });
    const known = this.tableExists(t.name)
      ? (JSON.parse((this.db.prepare("SELECT columns FROM result_tables WHERE name=?").get(t.name) as { columns: string }).columns) as string[])
      : undefined;
    if (known === undefined)
      this.db.exec(`CREATE TABLE ${q(t.name)} (run_id INTEGER, instance_id TEXT, cache_key TEXT, source_keys TEXT${cols.map((c) => `, ${q(c)}`).join("")})`);
    const added = cols.filter((c) => known !== undefined && !known.includes(c));
    for (const c of added) this.db.exec(`ALTER TABLE ${q(t.name)} ADD COLUMN ${q(c)}`);
    const all = [...(known ?? []), ...(known === undefined ? cols : added)];
    this.db.prepare("INSERT OR REPLACE INTO result_tables VALUES (?, ?, ?)").run(t.name, JSON.stringify(all), now());
    this.db.prepare(`DELETE FROM ${q(t.name)} WHERE instance_id=?`).run(prov.instanceId);
    const ins = this.db.prepare(`INSERT INTO ${q(t.name)} (${[...PROVENANCE, ...cols].map(q).join(", ")}) VALUES (${[...PROVENANCE, ...cols].map(() => "?").join(", ")})`);
    const sk = JSON.stringify(prov.sourceKeys);
    for (const r of t.rows)
      ins.run(prov.runId, prov.instanceId, prov.key, sk, ...cols.map((c) => (typeof r[c] === "boolean" ? Number(r[c]) : r[c] ?? null)));
  }

  /** Every result table: name → rows (data columns first, provenance last). */
  tables(): Record<string, Array<Record<string, unknown>>> {
    const out: Record<string, Array<Record<string, unknown>>> = {};
    for (const t of this.db.prepare("SELECT name, columns FROM result_tables ORDER BY name").all() as Array<{ name: string; columns: string }>) {
      const cols = [...(JSON.parse(t.columns) as string[]), ...PROVENANCE];
      out[t.name] = this.db.prepare(`SELECT ${cols.map(q).join(", ")} FROM ${q(t.name)} ORDER BY rowid`).all() as Array<Record<string, unknown>>;
    }
    return out;
  }

  // ---- external file digests ----
  readonly hashCache: HashCache = {
    get: (path, stamp) =>
      (this.db.prepare("SELECT sha256 FROM file_digests WHERE path=? AND stamp=?").get(path, stamp) as { sha256: string } | undefined)?.sha256,
    put: (path, stamp, hash) => void this.db.prepare("INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?)").run(path, stamp, hash),
  };

  // ---- per-key locks (atomic through SQLite's write lock) ----
  /**
   * Take the lock on `key` unless a live holder has it (`holderGone` says which are dead). A long
   * synchronous inline stage delays heartbeats; its pid stays alive.
   */
  tryLock(key: string, instanceId: string, token: string, alive: (pid: number) => boolean, staleMs: number): Holder | undefined {
    return this.db.transaction((): Holder | undefined => {
      const h = this.db.prepare("SELECT instance_id, pid, host, heartbeat_ms FROM locks WHERE cache_key=?").get(key) as Holder | undefined;
      if (h !== undefined && !holderGone(h, alive, staleMs)) return h;
      this.db.prepare("INSERT OR REPLACE INTO locks VALUES (?, ?, ?, ?, ?, ?, ?)").run(key, instanceId, process.pid, hostname(), token, now(), Date.now());
      return undefined;
    }).immediate();
  }

  heartbeat(key: string, token: string): void {
    this.db.prepare("UPDATE locks SET heartbeat_ms=? WHERE cache_key=? AND token=?").run(Date.now(), key, token);
  }

  unlock(key: string, token: string): void {
    this.db.prepare("DELETE FROM locks WHERE cache_key=? AND token=?").run(key, token);
  }

  /** Locks whose holder is gone (the rule of `tryLock`). */
  staleLocks(alive: (pid: number) => boolean, staleMs: number): Array<Holder & { cache_key: string }> {
    const rows = this.db.prepare("SELECT cache_key, instance_id, pid, host, heartbeat_ms FROM locks").all() as Array<Holder & { cache_key: string }>;
    return rows.filter((r) => holderGone(r, alive, staleMs));
  }

  /** Locks whose holder is still there. */
  heldLocks(alive: (pid: number) => boolean, staleMs: number): Array<Holder & { cache_key: string }> {
    const rows = this.db.prepare("SELECT cache_key, instance_id, pid, host, heartbeat_ms FROM locks").all() as Array<Holder & { cache_key: string }>;
    return rows.filter((r) => !holderGone(r, alive, staleMs));
  }

  /** Remove the locks whose holder is gone; returns how many. */
  cleanLocks(alive: (pid: number) => boolean, staleMs: number): number {
    const del = this.db.prepare("DELETE FROM locks WHERE cache_key=? AND pid=? AND heartbeat_ms=?");
    return this.staleLocks(alive, staleMs).reduce((n, r) => n + del.run(r.cache_key, r.pid, r.heartbeat_ms).changes, 0);
  }

  // ---- listings ----
  runs(limit: number): Array<Record<string, unknown>> {
    return this.db.prepare("SELECT * FROM runs ORDER BY run_id DESC LIMIT ?").all(limit) as Array<Record<string, unknown>>;
  }

  /** Digests referenced (as output or input) by executions of the last `n` runs. */
  recentDigests(n: number): Set<string> {
    const rows = this.db.prepare(
      "SELECT output_digest, key_parts FROM executions WHERE run_id IN (SELECT run_id FROM runs ORDER BY run_id DESC LIMIT ?)",
    ).all(n) as Array<{ output_digest: string | null; key_parts: string | null }>;
    const out = new Set<string>();
    for (const r of rows) {
      if (r.output_digest) out.add(r.output_digest);
      const inputs = r.key_parts ? (JSON.parse(r.key_parts) as { inputs?: Record<string, string> }).inputs : undefined;
      for (const d of Object.values(inputs ?? {})) out.add(d);
    }
    return out;
  }

  cacheEntries(): CacheEntry[] {
    return this.db.prepare("SELECT * FROM cache").all() as CacheEntry[];
  }
}
