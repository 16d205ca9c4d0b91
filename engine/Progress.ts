// Progress display: on a TTY one live line per running instance (bar + ETA); otherwise plain lines for logs.
import type { InstanceResult, RunEvent } from "./Runner.ts";

interface Live {
  readonly id: string;
  readonly stage: string;
  readonly started: number;
  done: number;
  total: number;
  /** Time and count at the first progress report: the ETA's rate excludes start-up. */
  first?: { at: number; done: number };
  label?: string;
  waiting?: string;
  lastPrinted: number;
}

export const formatSeconds = (s: number): string =>
  s < 60 ? `${s.toFixed(1)}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, "0")}m`;

/** Remaining seconds at a constant rate since `started`. */
export const eta = (started: number, done: number, total: number, now = performance.now()): number | undefined =>
  done > 0 && total > done ? ((now - started) / 1000 / done) * (total - done) : undefined;

const bar = (done: number, total: number, width = 20): string => {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  const n = Math.round(f * width);
  return `[${"#".repeat(n)}${"-".repeat(width - n)}] ${String(Math.round(f * 100)).padStart(3)}%`;
};

const statusMark: Record<InstanceResult["status"], string> = { ran: "✓ ran", cached: "· cached", failed: "✗ failed", skipped: "- skipped" };

export interface Display {
  readonly onEvent: (e: RunEvent) => void;
  readonly close: () => void;
}

/** `write` receives text; `tty` selects the live multi-line display. Cached instances print only in plain mode with `verbose`. */
export const makeDisplay = (write: (s: string) => void, tty: boolean, opts: { verbose?: boolean } = {}): Display => {
  const live = new Map<string, Live>();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const line = (l: Live): string => {
    const name = `${l.id}`.padEnd(28).slice(0, 40);
    if (l.waiting) return `${name} waiting for ${l.waiting}`;
    const elapsed = (performance.now() - l.started) / 1000;
    if (l.total <= 0) return `${name} running ${formatSeconds(elapsed)}`;
    const e = l.first ? eta(l.first.at, l.done - l.first.done, l.total - l.first.done) : undefined;
    return `${name} ${bar(l.done, l.total)} ${l.done}/${l.total}${l.label ? ` ${l.label}` : ""} ${formatSeconds(elapsed)}${e !== undefined ? ` ETA ${formatSeconds(e)}` : ""}`;
  };
  const redraw = () => {
    const up = drawn > 0 ? `\x1b[${drawn}A\x1b[J` : "";
    const lines = [...live.values()].map(line);
    write(up + lines.map((l) => `${l}\n`).join(""));
    drawn = lines.length;
  };
  const above = (text: string) => {
    if (!tty) return write(`${text}\n`);
    const up = drawn > 0 ? `\x1b[${drawn}A\x1b[J` : "";
    drawn = 0;
    write(`${up}${text}\n`);
    redraw();
  };
  if (tty) (timer = setInterval(redraw, 200)), timer.unref();
  const onEvent = (e: RunEvent): void => {
    switch (e.type) {
      case "start":
        live.set(e.id, { id: e.id, stage: e.stage, started: performance.now(), done: 0, total: 0, lastPrinted: 0 });
        if (!tty) write(`▶ ${e.id} (${e.stage})\n`);
        return;
      case "wait":
        live.set(e.id, { id: e.id, stage: "", started: performance.now(), done: 0, total: 0, waiting: e.holder, lastPrinted: 0 });
        if (!tty) write(`… ${e.id} waiting for ${e.holder}\n`);
        return;
      case "progress": {
        const l = live.get(e.id);
        if (!l) return;
        l.first ??= { at: performance.now(), done: e.done };
        Object.assign(l, { done: e.done, total: e.total, label: e.label });
        // Plain mode: at most one line per instance every 5 s, plus the last step.
        if (!tty && (performance.now() - l.lastPrinted > 5000 || e.done === e.total)) (l.lastPrinted = performance.now()), write(`  ${line(l)}\n`);
        return;
      }
      case "log":
        return above(`  ${e.id}: ${e.message}`);
      case "warn":
        return above(`⚠ ${e.id}: ${e.message}`);
      case "finish": {
        live.delete(e.result.id);
        if (e.result.status === "cached" && !opts.verbose) return;
        const err = e.result.error ? `: ${e.result.error.split("\n")[0]}` : "";
        return above(`${statusMark[e.result.status]} ${e.result.id} ${formatSeconds(e.result.seconds)}${err}`);
      }
    }
  };
  return {
    onEvent,
    close: () => {
      if (timer) clearInterval(timer);
      if (tty && drawn > 0) write(`\x1b[${drawn}A\x1b[J`), (drawn = 0);
    },
  };
};
