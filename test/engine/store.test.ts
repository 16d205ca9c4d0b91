// Artifact store, run DB, fingerprints and the progress display, unit by unit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ArtifactStore, digestDir } from "../../engine/ArtifactStore.ts";
import { canonicalJson, sha256 } from "../../engine/Canonical.ts";
import { localImports } from "../../engine/Fingerprint.ts";
import { eta, makeDisplay } from "../../engine/Progress.ts";
import { RunStore } from "../../engine/RunStore.ts";
import { tempDir } from "./helpers.ts";

test("canonicalJson sorts keys at every depth and rejects non-finite numbers", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: null }], c: "x" }, u: undefined }), '{"a":{"c":"x","d":[1,{"y":null,"z":0}]},"b":1}');
  assert.throws(() => canonicalJson({ a: [NaN] }), /non-finite number NaN at \.a\[0\]/);
});

test("values: digest = sha256 of the bytes; corruption is detected on read", () => {
  const s = new ArtifactStore(tempDir());
  const { digest } = s.putValue('{"x":1}');
  assert.equal(digest, sha256('{"x":1}'));
  assert.equal(s.readValue(digest), '{"x":1}');
  writeFileSync(s.path("value", digest), '{"x":2}');
  assert.throws(() => s.readValue(digest), (e: any) => e._tag === "ArtifactCorrupt" && /does not match its digest/.test(e.message));
  assert.deepEqual(readdirSync(s.tmp), [], "no scratch left behind");
});

test("directories: digest depends on relative paths and contents only", () => {
  const root = tempDir();
  const mk = (name: string, order: string[]) => {
    const d = join(root, name);
    mkdirSync(join(d, "sub"), { recursive: true });
    for (const f of order) writeFileSync(join(d, f), `content of ${f}`);
    return d;
  };
  const a = mk("a", ["x.txt", "sub/y.txt"]), b = mk("b", ["sub/y.txt", "x.txt"]);
  assert.equal(digestDir(a), digestDir(b));
  writeFileSync(join(b, "x.txt"), "changed");
  assert.notEqual(digestDir(a), digestDir(b));
  const s = new ArtifactStore(tempDir());
  const out = s.scratch();
  writeFileSync(join(out, "w.bin"), "weights");
  const { digest, bytes } = s.putDirectory(out);
  assert.equal(bytes, 7);
  assert.equal(s.dirPath(digest), s.path("directory", digest));
  const again = s.scratch();
  writeFileSync(join(again, "w.bin"), "weights");
  assert.equal(s.putDirectory(again).digest, digest, "same content, same artifact");
  assert.deepEqual(readdirSync(s.tmp), [], "the duplicate's scratch is removed");
});

test("run DB: migrations are idempotent; result tables gain columns and keep provenance", () => {
  const root = tempDir();
  const db = new RunStore(root);
  const run = db.startRun("p", "run p");
  const base = { runId: run, stage: "s", keyParts: {}, kind: "value" as const, digest: "d", bytes: 1, startedAt: "", seconds: 0.1 };
  db.commitSuccess({ ...base, instanceId: "i1", key: "k1", sourceKeys: { x: "up1" }, tables: [{ name: "scores", rows: [{ method: "a", acc: 0.5 }] }] });
  db.commitSuccess({ ...base, instanceId: "i2", key: "k2", sourceKeys: {}, tables: [{ name: "scores", rows: [{ method: "b", acc: 0.7, ppl: 12 }] }] });
  db.commitSuccess({ ...base, instanceId: "i1", key: "k3", sourceKeys: {}, tables: [{ name: "scores", rows: [{ method: "a2", acc: 0.6 }] }] });
  db.close();
  const again = new RunStore(root); // reopening runs no migration twice
  assert.deepEqual(again.db.prepare("SELECT version FROM schema_migrations").all(), [{ version: 1 }, { version: 2 }]);
  const rows = again.tables().scores;
  assert.deepEqual(rows.map((r) => [r.method, r.acc, r.ppl, r.instance_id, r.cache_key]), [["b", 0.7, 12, "i2", "k2"], ["a2", 0.6, null, "i1", "k3"]]);
  assert.throws(() => again.commitSuccess({ ...base, instanceId: "i3", key: "k4", sourceKeys: {}, tables: [{ name: "runs", rows: [] }] }), (e: any) => e._tag === "DefinitionError" && /"runs"/.test(e.message));
  assert.equal(again.cacheGet("k4"), undefined, "the failed commit left no cache entry");
  again.close();
});

test("locks: a live holder blocks, a dead pid's lock is taken over", () => {
  const db = new RunStore(tempDir());
  assert.equal(db.tryLock("k", "i", "t1", () => true, 30_000), undefined);
  assert.equal(db.tryLock("k", "i", "t2", () => true, 30_000)?.pid, process.pid);
  assert.equal(db.tryLock("k", "i", "t2", () => false, 30_000), undefined, "holder pid is dead → stale lock recovered");
  db.unlock("k", "t1"); // not the owner any more: no effect
  assert.notEqual(db.tryLock("k", "i", "t3", () => true, 30_000), undefined);
  db.unlock("k", "t2");
  assert.equal(db.tryLock("k", "i", "t3", () => true, 30_000), undefined);
  db.close();
});

test("localImports finds relative specifiers of every import form", () => {
  const src = `import { a } from "./a.ts";\nimport type {\n  B,\n} from '../b/b.ts';\nexport * from "./c.ts";\nimport "./d.ts";\nconst e = await import("./e.ts");\nimport { Schema } from "effect";`;
  assert.deepEqual(localImports(src, "/p/x/m.ts"), ["/p/x/a.ts", "/p/b/b.ts", "/p/x/c.ts", "/p/x/d.ts", "/p/x/e.ts"]);
});

test("progress: ETA at a constant rate; plain mode prints start, progress and finish lines", () => {
  assert.equal(eta(0, 25, 100, 10_000), 30);
  assert.equal(eta(0, 0, 100, 10_000), undefined);
  let out = "";
  const d = makeDisplay((s) => void (out += s), false);
  d.onEvent({ type: "start", id: "train", stage: "train" });
  d.onEvent({ type: "progress", id: "train", done: 10, total: 10, label: "steps" });
  d.onEvent({ type: "finish", result: { id: "train", stage: "train", status: "ran", seconds: 1.5 } });
  d.close();
  assert.match(out, /▶ train \(train\)\n/);
  assert.match(out, /\[#{20}\] 100% 10\/10 steps/);
  assert.match(out, /✓ ran train 1\.5s/);
});
