// A real one-node Slurm cluster on 127.0.0.1 for the tests: slurmctld + slurmd (Debian's packages) in
// a temporary directory, on free ports, with auth/none and a filetxt job-completion log. Started in the
// foreground (-D) under setsid, stopped by PID (TERM, then KILL). `slurmMissing()` says why the tests
// must skip (binaries absent); `startCluster()` returns the environment the Slurm clients need.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

const BINARIES = ["slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo"];

const which = (bin: string): boolean => spawnSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore", env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }).status === 0;

/** A reason to skip (binaries missing or not root), or undefined when a cluster can be started. */
export const slurmMissing = (): string | undefined => {
  const missing = BINARIES.filter((b) => !which(b));
  if (missing.length > 0)
    return `Slurm is not installed (${missing.join(", ")} missing): apt-get install -y slurmctld slurmd slurm-client (.ci/run does this)`;
  if (process.getuid?.() !== 0) return "the test Slurm cluster runs its daemons as root (SlurmUser=root); run the tests as root";
  return undefined;
};

const freePort = (): Promise<number> =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });

export interface Cluster {
  readonly dir: string;
  /** Environment for Slurm clients and for `acft run --executor slurm` (SLURM_CONF, PATH). */
  readonly env: NodeJS.ProcessEnv;
  /** Path of the jobcomp/filetxt record: one line per finished job. */
  readonly jobcomp: string;
  /** Lines of the job-completion record (one per job that reached a terminal state). */
  readonly completed: () => string[];
  /** Run a Slurm client (squeue, scancel, …) against this cluster; returns stdout. */
  readonly client: (bin: string, args: string[]) => string;
  readonly stop: () => Promise<void>;
}

const alive = (pid: number): boolean => {
  const r = spawnSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() !== "" && !r.stdout.trim().startsWith("Z");
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** TERM each pid, wait up to `ms`, then KILL those still alive. */
const stopPids = async (pids: number[], ms = 10_000): Promise<void> => {
  for (const p of pids) try { process.kill(p, "SIGTERM"); } catch { /* gone */ }
  const t0 = Date.now();
  while (pids.some(alive) && Date.now() - t0 < ms) await sleep(100);
  for (const p of pids.filter(alive)) try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
};

/**
 * Start the cluster; resolves once the node is idle (about 2 s). `timeLimitMinutes` is the partition's
 * default (jobs without --time). Throws with the daemons' log tails when it does not come up in 40 s.
 */
export const startCluster = async (opts: { keep?: boolean } = {}): Promise<Cluster> => {
  const dir = mkdtempSync(join(tmpdir(), "acft-slurm-"));
  for (const d of ["state", "spool", "log"]) mkdirSync(join(dir, d));
  const path = `${process.env.PATH}:/usr/sbin:/sbin`;
  // The node line as slurmd sees the hardware, with a small RealMemory (jobs ask for little).
  const node = execFileSync("slurmd", ["-C"], { encoding: "utf8", env: { ...process.env, PATH: path }, timeout: 20_000 })
    .split("\n")[0].replace(/ RealMemory=.*/, "");
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const jobcomp = join(dir, "log", "jobcomp.txt");
  const conf = join(dir, "slurm.conf");
  writeFileSync(conf, [
    "ClusterName=acfttest",
    `SlurmctldHost=${hostname().split(".")[0]}(127.0.0.1)`,
    `SlurmctldPort=${ctldPort}`,
    `SlurmdPort=${dPort}`,
    "SlurmUser=root",
    "AuthType=auth/none",
    "CredType=cred/none",
    "MpiDefault=none",
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool`,
    `SlurmctldPidFile=${dir}/slurmctld.pid`,
    `SlurmdPidFile=${dir}/slurmd.pid`,
    `SlurmctldLogFile=${dir}/log/slurmctld.log`,
    `SlurmdLogFile=${dir}/log/slurmd.log`,
    // proctrack/cgroup silently does not run jobs in containers (and still marks them COMPLETED)
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/filetxt",
    `JobCompLoc=${jobcomp}`,
    "SchedulerType=sched/backfill",
    "SchedulerParameters=batch_sched_delay=0,sched_min_interval=0",
    "DependencyParameters=kill_invalid_depend",
    "MailProg=/bin/true",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core_Memory",
    "ReturnToService=2",
    "MinJobAge=600",
    "KillWait=2",
    "DefMemPerCPU=100",
    "OverTimeLimit=0",
    "InactiveLimit=0",
    `${node} RealMemory=2000 NodeAddr=127.0.0.1 State=UNKNOWN`,
    "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    "",
  ].join("\n"));
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: conf, PATH: path };
  const daemon = (bin: string, args: string[]): number => {
    const child = spawn("setsid", [bin, "-D", ...args, "-f", conf], { env, stdio: ["ignore", "ignore", "ignore"], detached: false });
    child.unref();
    writeFileSync(join(dir, `${bin}.bgpid`), String(child.pid));
    return child.pid!;
  };
  // setsid execs the daemon in place (it is not a process-group leader here), so these are the daemons' pids.
  const pids = [daemon("slurmctld", ["-i"]), daemon("slurmd", [])];
  const client = (bin: string, args: string[]): string => execFileSync(bin, args, { env, encoding: "utf8", timeout: 15_000, stdio: ["ignore", "pipe", "pipe"] });
  const stop = async (): Promise<void> => {
    await stopPids([...pids].reverse());
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };
  const t0 = Date.now();
  for (;;) {
    let state = "";
    try {
      state = execFileSync("sinfo", ["-h", "-o", "%T"], { env, encoding: "utf8", timeout: 3000 }).trim();
    } catch { /* controller not up yet */ }
    if (state === "idle") break;
    if (Date.now() - t0 > 40_000 || !alive(pids[0])) {
      const tail = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").split("\n").slice(-15).join("\n") : "(no log)");
      const logs = `slurmctld.log:\n${tail(join(dir, "log", "slurmctld.log"))}\nslurmd.log:\n${tail(join(dir, "log", "slurmd.log"))}`;
      await stopPids(pids);
      throw new Error(`the test Slurm cluster did not come up in 40 s (node state "${state}")\n${logs}`);
    }
    await sleep(250);
  }
  return {
    dir, env, jobcomp, client, stop,
    completed: () => (existsSync(jobcomp) ? readFileSync(jobcomp, "utf8").split("\n").filter((l) => l.trim() !== "") : []),
  };
};
