// The data commands, as plain async functions the acft CLI wires up:
//   acft data check [--data-dir DIR] [--json]   validate every dataset found (or the synthetic default)
//   acft data fetch --data-dir DIR [--only P…]   download the public datasets into DIR
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkDataDir } from "./dataset.ts";
import type { RecordIssue } from "./errors.ts";
import { formatIssue } from "./errors.ts";
import { fetchDatasets, type FetchProgress, type FetchedFile } from "./fetch.ts";
import { NOT_FETCHABLE } from "./manifest.ts";
import { DATASETS, DATASET_NAMES, datasetPresent } from "./registry.ts";
import { writeSynthetic, type SyntheticConfigInput } from "./synthetic/generate.ts";

/** One dataset in the check report. `errors` lists every bad record (the reader ran with skipBad). */
export interface DatasetCheck {
  readonly name: string;
  readonly records: number;
  readonly digest: string;
  readonly errors: readonly RecordIssue[];
}
/** Exactly the JSON `acft data check --json` prints (last line of stdout). */
export interface DataCheckReport {
  readonly datasets: readonly DatasetCheck[];
}

export interface DataCheckOptions {
  /** Data dir to validate; undefined = generate the synthetic default in a temp dir and check that. */
  readonly dataDir?: string;
  readonly json?: boolean;
  /** Synthetic sizes when no data dir is given. */
  readonly synthetic?: Partial<SyntheticConfigInput>;
  readonly log?: (line: string) => void;
}

export const checkPassed = (r: DataCheckReport): boolean => r.datasets.length > 0 && r.datasets.every((d) => d.errors.length === 0);

/** Every dataset found in dataDir, read with skipBad. A missing data dir throws DataDirMissing. */
const checkDir = (dataDir: string): DataCheckReport => {
  checkDataDir(dataDir);
  const check = (name: (typeof DATASET_NAMES)[number]): DatasetCheck => {
    try {
      const d = DATASETS[name].read(dataDir, { skipBad: true });
      return { name, records: d.records.length, digest: d.digest, errors: d.errors };
    } catch (e) {
      const tagged = e as { _tag?: string; file?: string; message: string };
      if (tagged._tag !== "DatasetFileMissing") throw e;
      return { name, records: 0, digest: "", errors: [{ file: tagged.file ?? dataDir, line: 0, field: "file", message: tagged.message }] };
    }
  };
  return { datasets: DATASET_NAMES.filter((n) => datasetPresent(n, dataDir)).map(check) };
};

/**
 * Check a data dir (or the synthetic default). Bad records, missing files and empty required files
 * are errors in the report; a data dir that does not exist or is a file fails with DataDirMissing.
 */
export const dataCheck = async (opts: DataCheckOptions = {}): Promise<DataCheckReport> => {
  const log = opts.log ?? ((s: string) => console.log(s));
  let report: DataCheckReport;
  let where: string;
  if (opts.dataDir !== undefined) {
    report = checkDir(opts.dataDir);
    where = opts.dataDir;
  } else {
    const tmp = mkdtempSync(join(tmpdir(), "acft-synthetic-"));
    try {
      const s = writeSynthetic(tmp, opts.synthetic);
      report = checkDir(tmp);
      where = `the synthetic default (seed ${s.config.seed}, generated and read back from a temp dir)`;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (opts.json) {
    log(JSON.stringify(report));
    return report;
  }
  log(`data check: ${where}`);
  if (report.datasets.length === 0) log("  no known dataset found (see docs/data.md for the expected layout)");
  for (const d of report.datasets) {
    log(`  ${d.errors.length === 0 ? "ok  " : "FAIL"} ${d.name.padEnd(20)} ${String(d.records).padStart(7)} records  digest ${d.digest.slice(0, 12)}${d.errors.length ? `  ${d.errors.length} bad` : ""}`);
    for (const i of d.errors.slice(0, 5)) log(`       ${formatIssue(i)}`);
    if (d.errors.length > 5) log(`       … ${d.errors.length - 5} more (use --json for all)`);
  }
  return report;
};

export interface DataFetchOptions {
  readonly dataDir: string;
  readonly only?: readonly string[];
  readonly mirror?: string;
  readonly retries?: number;
  readonly log?: (line: string) => void;
  /** Progress sink; default: a line on stderr at most every 500 ms. */
  readonly onProgress?: (p: FetchProgress) => void;
}

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

const stderrProgress = (): ((p: FetchProgress) => void) => {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 500 && p.fileBytes < p.fileTotal) return;
    last = now;
    const eta = p.etaSeconds === undefined ? "?" : `${Math.ceil(p.etaSeconds)} s`;
    process.stderr.write(`fetch ${p.file} ${mb(p.fileBytes)}/${mb(p.fileTotal)}  total ${mb(p.doneBytes)}/${mb(p.totalBytes)}  ${mb(p.bytesPerSecond)}/s  ETA ${eta}\n`);
  };
};

/** Download into dataDir; typed errors (ChecksumMismatch, DownloadFailed, InvalidDataOption) propagate. */
export const dataFetch = async (opts: DataFetchOptions): Promise<FetchedFile[]> => {
  const log = opts.log ?? ((s: string) => console.log(s));
  const files = await fetchDatasets({ dataDir: opts.dataDir, only: opts.only, mirror: opts.mirror, retries: opts.retries, onProgress: opts.onProgress ?? stderrProgress() });
  const by = (s: string) => files.filter((f) => f.status === s).length;
  log(`data fetch: ${files.length} files in ${opts.dataDir} (${by("downloaded")} downloaded, ${by("resumed")} resumed, ${by("present")} already present and verified)`);
  for (const f of files.filter((x) => x.note)) log(`  note: ${f.file}: ${f.note}`);
  log("  not fetched (no canonical public file URL):");
  for (const n of NOT_FETCHABLE) log(`    - ${n}`);
  return files;
};
