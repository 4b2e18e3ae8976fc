// The agent's settings: typed, defaulted in one place, validated at the edge
// with messages that name the bad key and what it accepts.
import { findProbe, BUILTIN_PROBES } from '../probes';
import type { LogLevel } from '../log';

export interface AgentOptions {
  /** HTTP listen address: `:9478`, `127.0.0.1:9478`, `[::1]:9478`. */
  listen: string;
  /** Probe names to run. */
  probes: string[];
  /** Fail start when any probe cannot attach. */
  strict: boolean;
  /** Only events of this process (tgid). */
  tgid?: number;
  /** Only events from this cgroup v2 directory and below. */
  cgroup?: string;
  /** Ring buffer bytes per probe (power of two). */
  ringBytes: number;
  /** The kernel wakes the reader once this many bytes wait. */
  wakeupBytes: number;
  /** Timed drain period: the latency bound when traffic is light. */
  drainIntervalMs: number;
  /** Series per metric before new label sets fold into `__overflow__`. */
  maxSeriesPerMetric: number;
  /** Account BPF program run time (BPF_ENABLE_STATS; costs ~20 ns per program run). */
  bpfStats: boolean;
  logLevel: LogLevel;
}

export const DEFAULT_OPTIONS: AgentOptions = {
  listen: ':9478',
  probes: BUILTIN_PROBES.map((p) => p.name),
  strict: false,
  ringBytes: 4 * 1024 * 1024,
  wakeupBytes: 1024 * 1024,
  drainIntervalMs: 20,
  maxSeriesPerMetric: 2000,
  bpfStats: false,
  logLevel: 'info',
};

/** A bad setting: the message names the key, the value and what is accepted. */
export class OptionError extends Error {
  constructor(key: string, value: unknown, accepted: string) {
    super(`invalid ${key}: ${JSON.stringify(value)}; expected ${accepted}`);
    this.name = 'OptionError';
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function parseListen(listen: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*))?:(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new OptionError('--listen', listen, 'HOST:PORT, :PORT or [IPv6]:PORT');
  return { host: match[1] ?? (match[2] || undefined), port };
}

export function validateOptions(options: AgentOptions): AgentOptions {
  parseListen(options.listen);
  if (options.probes.length === 0) throw new OptionError('--probes', '', 'a comma-separated list of probes');
  for (const name of options.probes) {
    if (!findProbe(name)) {
      throw new OptionError('--probes', name, `one of ${BUILTIN_PROBES.map((p) => p.name).join(', ')}`);
    }
  }
  if (options.tgid !== undefined && !(Number.isInteger(options.tgid) && options.tgid > 0)) {
    throw new OptionError('--pid', options.tgid, 'a positive process id');
  }
  if (!isPowerOfTwo(options.ringBytes) || options.ringBytes < 4096) {
    throw new OptionError('--ring-bytes', options.ringBytes, 'a power of two of at least 4096');
  }
  if (!Number.isInteger(options.wakeupBytes) || options.wakeupBytes < 1 || options.wakeupBytes > options.ringBytes) {
    throw new OptionError(
      '--wakeup-bytes',
      options.wakeupBytes,
      `an integer from 1 to the ring size (${options.ringBytes})`,
    );
  }
  if (!Number.isInteger(options.drainIntervalMs) || options.drainIntervalMs < 1 || options.drainIntervalMs > 10000) {
    throw new OptionError('--drain-interval-ms', options.drainIntervalMs, 'an integer from 1 to 10000');
  }
  if (!Number.isInteger(options.maxSeriesPerMetric) || options.maxSeriesPerMetric < 1) {
    throw new OptionError('--max-series', options.maxSeriesPerMetric, 'a positive integer');
  }
  return options;
}
