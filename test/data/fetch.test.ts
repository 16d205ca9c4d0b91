// The fetcher against a local HTTP server on 127.0.0.1 (never a real network address): plain
// download, a dropped connection resumed with a Range request, a corrupted file (typed checksum
// error, nothing left behind), an HTTP error, and the real manifest served from ../shared/datasets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect, Either } from "effect";
import { fetchDatasets, fetchDatasetsEffect, selectEntries, type FetchProgress } from "../../data/fetch.ts";
import { MANIFEST, RAW_BASE, type ManifestEntry } from "../../data/manifest.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

interface Route { body: Buffer; dropAfter?: number; status?: number }

/** A bounded local server: serves routes with Range support; closes itself after 30 s at most. */
const serve = async (routes: Map<string, Route>, seen: string[]): Promise<{ base: string; close: () => Promise<void> }> => {
  const drops = new Set<string>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(req.url ?? "");
    seen.push(`${req.method} ${path} ${req.headers.range ?? ""}`);
    const r = routes.get(path);
    if (r === undefined || r.status) { res.writeHead(r?.status ?? 404); res.end(); return; }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    const body = r.body.subarray(start);
    res.writeHead(m ? 206 : 200, { "Content-Length": body.length, ...(m ? { "Content-Range": `bytes ${start}-${r.body.length - 1}/${r.body.length}` } : {}) });
    if (r.dropAfter !== undefined && !drops.has(path)) {
      drops.add(path); // first request only: send part of the body, then cut the connection
      res.write(body.subarray(0, r.dropAfter), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const guard = setTimeout(() => server.close(), 30_000);
  guard.unref();
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => { clearTimeout(guard); server.closeAllConnections(); server.close(() => ok()); }),
  };
};

const entry = (dest: string, urlPath: string, body: Buffer, shaOverride?: string): ManifestEntry => ({
  dest, url: `${RAW_BASE}${urlPath}`, sha256: shaOverride ?? sha(body), bytes: body.length, repo: "o/r", commit: "c", license: "test",
});

const tmp = () => mkdtempSync(join(tmpdir(), "acft-fetch-test-"));

test("fetch: downloads, resumes a dropped connection with a Range request, reports progress, skips verified files", async () => {
  const big = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 251));
  const small = Buffer.from("0\n1\n1\n");
  const routes = new Map<string, Route>([["/o/r/c/data/big.bin", { body: big, dropAfter: 65_536 }], ["/o/r/c/data/labels.lst", { body: small }]]);
  const seen: string[] = [];
  const srv = await serve(routes, seen);
  const dir = tmp();
  try {
    const entries = [entry("x/big.bin", "/o/r/c/data/big.bin", big), entry("x/labels.lst", "/o/r/c/data/labels.lst", small)];
    const progress: FetchProgress[] = [];
    const got = await fetchDatasets({ dataDir: dir, entries, mirror: srv.base, onProgress: (p) => progress.push(p) });
    assert.deepEqual(got.map((f) => f.status), ["resumed", "downloaded"]);
    assert.ok(readFileSync(join(dir, "x/big.bin")).equals(big));
    assert.ok(!existsSync(join(dir, "x/big.bin.part")));
    const ranges = seen.filter((s) => s.includes("big.bin") && s.includes("bytes="));
    assert.equal(ranges.length, 1, `one resume request expected, saw ${seen.join(" | ")}`);
    assert.match(ranges[0], /bytes=\d+-$/);
    assert.ok(Number(/bytes=(\d+)-/.exec(ranges[0])![1]) > 0, "resumed from the bytes already on disk");
    const last = progress[progress.length - 1];
    assert.equal(last.totalBytes, big.length + small.length);
    assert.equal(last.doneBytes, last.totalBytes);
    assert.ok(progress.every((p) => p.fileBytes <= p.fileTotal));
    const again = await fetchDatasets({ dataDir: dir, entries, mirror: srv.base });
    assert.deepEqual(again.map((f) => f.status), ["present", "present"]);
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fetch: a corrupted file fails with ChecksumMismatch and leaves neither the file nor a .part", async () => {
  const good = Buffer.from("the real bytes\n");
  const routes = new Map<string, Route>([["/o/r/c/f.txt", { body: Buffer.from("the evil bytes\n") }]]);
  const srv = await serve(routes, []);
  const dir = tmp();
  try {
    await assert.rejects(
      fetchDatasets({ dataDir: dir, entries: [entry("d/f.txt", "/o/r/c/f.txt", good)], mirror: srv.base }),
      (e: { _tag: string; message: string; expected: string }) => e._tag === "ChecksumMismatch" && e.expected === sha(good) && /d\/f\.txt/.test(e.message),
    );
    assert.ok(!existsSync(join(dir, "d/f.txt")));
    assert.ok(!existsSync(join(dir, "d/f.txt.part")));
    const eff = await Effect.runPromise(Effect.either(fetchDatasetsEffect({ dataDir: dir, entries: [entry("d/f.txt", "/o/r/c/f.txt", good)], mirror: srv.base })));
    assert.ok(Either.isLeft(eff) && eff.left._tag === "ChecksumMismatch", "the Effect form fails with the typed error");
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fetch: HTTP 404 is DownloadFailed naming file and URL; an unknown --only prefix is InvalidDataOption", async () => {
  const srv = await serve(new Map([["/o/r/c/gone", { body: Buffer.alloc(0), status: 404 }]]), []);
  const dir = tmp();
  try {
    await assert.rejects(
      fetchDatasets({ dataDir: dir, entries: [entry("g/gone", "/o/r/c/gone", Buffer.from("x"))], mirror: srv.base, retries: 0 }),
      (e: { _tag: string; message: string }) => e._tag === "DownloadFailed" && /HTTP 404/.test(e.message) && /g\/gone/.test(e.message),
    );
    assert.throws(() => selectEntries(MANIFEST, ["nosuchdir"]), (e: { _tag: string; message: string }) => e._tag === "InvalidDataOption" && /mmlu/.test(e.message));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const SHARED = join(import.meta.dirname, "../../../shared/datasets");
const skip = existsSync(SHARED) ? false : `../shared/datasets not found: ${SHARED}`;

test("manifest: one entry per SHA256SUMS line, sizes and hashes of ../shared/datasets, raw URLs at pinned commits", { skip }, () => {
  const sums = readFileSync(join(SHARED, "SHA256SUMS"), "utf8").trim().split("\n").map((l) => l.split(/\s+/));
  assert.equal(MANIFEST.length, sums.length);
  for (const [hash, path] of sums) {
    const e = MANIFEST.find((m) => m.dest === path);
    assert.ok(e, `manifest lacks ${path}`);
    assert.equal(e.sha256, hash);
    assert.match(e.url, /^https:\/\/raw\.githubusercontent\.com\/[^/]+\/[^/]+\/[0-9a-f]{40}\/\S+$/);
  }
  assert.match(MANIFEST.find((m) => m.dest === "wikitext-2/train.txt")!.note ?? "", /REBUILT/);
});

test("fetch: the real manifest's piqa + winogrande entries served from ../shared/datasets in the canonical URL layout", { skip }, async () => {
  const entries = selectEntries(MANIFEST, ["piqa/", "winogrande/"]);
  const routes = new Map(entries.map((e): [string, Route] => [decodeURIComponent(new URL(e.url).pathname), { body: readFileSync(join(SHARED, e.dest)) }]));
  const srv = await serve(routes, []);
  const dir = tmp();
  try {
    const got = await fetchDatasets({ dataDir: dir, entries, mirror: srv.base });
    assert.equal(got.length, 6);
    for (const e of entries) assert.ok(readFileSync(join(dir, e.dest)).equals(readFileSync(join(SHARED, e.dest))));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
