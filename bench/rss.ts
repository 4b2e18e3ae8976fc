// A process's resident set as the memory and soak benchmarks read and judge
// it: VmRSS and VmHWM from /proc/PID/status, the least-squares slope of the
// samples, and MiB / percentage text.
import fs from 'node:fs';

const MIB = 1024 * 1024;

export interface Status {
  rssBytes: number;
  /** Peak resident set so far (VmHWM). */
  peakBytes: number;
}

export interface RssSample {
  /** Seconds since the load started. */
  t: number;
  rssBytes: number;
}

export function status(pid: number): Status {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kib('VmRSS'), peakBytes: kib('VmHWM') };
}

/** Least-squares slope of y over x. */
export function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxx > 0 ? sxy / sxx : 0;
}

export interface RssSummary {
  startBytes: number;
  endBytes: number;
  maxBytes: number;
  minBytes: number;
  /** Least-squares slope over the samples after the warm-up. */
  slopeBytesPerMin: number;
  /** Lowest and highest sample after the warm-up against the start, as shares (-0.02 = 2% below). */
  spread: [number, number];
}

/** The samples from `warmupS` on against the first of them. */
export function afterWarmup(samples: RssSample[], warmupS: number): RssSummary {
  const after = samples.filter((s) => s.t >= warmupS);
  const start = after[0].rssBytes;
  const values = after.map((s) => s.rssBytes);
  return {
    startBytes: start,
    endBytes: values[values.length - 1],
    maxBytes: Math.max(...values),
    minBytes: Math.min(...values),
    slopeBytesPerMin: slope(after.map((s) => [s.t / 60, s.rssBytes])),
    spread: [Math.min(...values) / start - 1, Math.max(...values) / start - 1],
  };
}

/** One line per minute from the start of the load: the RSS samples of that minute, in MiB. */
export function minuteRows(samples: RssSample[]): string[] {
  const rows: string[] = [];
  for (let minute = 0; minute * 60 <= samples[samples.length - 1].t; minute++) {
    const row = samples.filter((s) => s.t >= minute * 60 && s.t < (minute + 1) * 60);
    rows.push(`${String(minute * 60).padStart(5)} s  ${row.map((s) => mib(s.rssBytes).padStart(6)).join(' ')}`);
  }
  return rows;
}

export const mib = (bytes: number): string => (bytes / MIB).toFixed(1);
export const percent = (share: number): string => `${share >= 0 ? '+' : ''}${(100 * share).toFixed(1)}%`;
