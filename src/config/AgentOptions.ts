// The agent's settings: typed, defaulted in one place, validated at the edge
// with messages that name the bad key and what it accepts. SETTINGS names each
// setting in the three places it can come from (config file < KERNSCOPE_*
// environment < command-line flags; see resolveOptions in loadConfig.ts).
import { accessSync, constants } from 'node:fs';

import { parseCapability } from '../kernel/capabilities';
import { resolveCgroup } from '../kernel/cgroup';
import { resolveNetns } from '../kernel/netns';
import { findProbe, BUILTIN_PROBES, DEFAULT_PROBES } from '../probes';
import type { LogLevel } from '../log';
import type { EffectiveProbeOptions, ProbeOptions } from './probeOptions';
import { histogramSlots } from '../decode/histogramSlots';
import { COMM_ACCEPTED, bucketProblem, histogramsOf, isComm, optionalLabelsOf } from './probeOptions';

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
  /** Only events of tasks with this command name (comm). */
  comm?: string;
  /** Only sockets in this network namespace (probes with a netns filter: tcp). */
  netns?: string;
  /** Ring buffer bytes per probe (power of two). */
  ringBytes: number;
  /** The kernel wakes the reader once this many bytes wait. */
  wakeupBytes: number;
  /** Timed drain period: the latency bound when traffic is light. */
  drainIntervalMs: number;
  /** The syscalls probe measures the latency of 1 in this many calls per CPU (1: every call); counts stay exact. */
  syscallLatencyEvery: number;
  /** Series per metric before new label sets fold into `__overflow__`. */
  maxSeriesPerMetric: number;
  /** A series whose value did not change for this long is dropped from the export; 0: never. */
  seriesTtlMs: number;
  /** Account BPF program run time (BPF_ENABLE_STATS; costs ~20 ns per program run). */
  bpfStats: boolean;
  logLevel: LogLevel;
  /** Label attributable metrics with namespace, pod and container (from the cgroup). */
  attribution: boolean;
  /** A kubeconfig for the pod watch instead of the in-cluster service account (running outside the cluster). */
  kubeconfig?: string;
  /** Push metrics over OTLP/gRPC to this collector (also OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT). */
  otlpEndpoint?: string;
  /** The Kubernetes node this agent runs on (resource attribute k8s.node.name). */
  nodeName?: string;
  /** TLS and basic auth of the HTTP endpoint: an exporter-toolkit web config file (src/config/webConfig.ts). */
  webConfig?: string;
  /** Capabilities to keep once every probe is attached, besides those still needed (`none`, `all`: drop nothing). */
  capabilitiesKeep: string[];
  /** Per-probe filters, optional labels and buckets, by probe name (config file `probes:`). */
  probeOptions: Record<string, ProbeOptions>;
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export const DEFAULT_OPTIONS: AgentOptions = {
  listen: ':9478',
  probes: [...DEFAULT_PROBES],
  strict: false,
  ringBytes: 4 * 1024 * 1024,
  wakeupBytes: 1024 * 1024,
  drainIntervalMs: 20,
  syscallLatencyEvery: 16,
  maxSeriesPerMetric: 2000,
  seriesTtlMs: 10 * 60 * 1000,
  bpfStats: false,
  attribution: true,
  logLevel: 'info',
  capabilitiesKeep: [],
  probeOptions: {},
};

/** A bad setting: the message names the key, the value and what is accepted. */
export class OptionError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly accepted: string,
    message = `invalid ${key}: ${JSON.stringify(value)}; expected ${accepted}`,
  ) {
    super(message);
    this.name = 'OptionError';
  }

  /** A key nothing reads (a typo, or a setting from another version). */
  static unknownKey(key: string, accepted: string): OptionError {
    return new OptionError(key, undefined, accepted, `unknown key ${key}; expected ${accepted}`);
  }
}

/** Several bad settings at once: one line each. */
export class OptionErrors extends Error {
  constructor(readonly errors: OptionError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'OptionErrors';
  }

  /** Throws nothing for no errors, the error itself for one, an OptionErrors for more. */
  static throwIfAny(errors: OptionError[]): void {
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new OptionErrors(errors);
  }
}

/** Every OptionError inside `error` (an OptionError, an OptionErrors), or none. */
export function optionErrorsOf(error: unknown): OptionError[] {
  if (error instanceof OptionError) return [error];
  if (error instanceof OptionErrors) return error.errors;
  return [];
}

export const OTLP_ENDPOINT_ACCEPTED = 'an OTLP/gRPC URL: http://HOST:PORT (plain) or https://HOST:PORT (TLS)';

export function isOtlpEndpoint(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.pathname === '/';
  } catch {
    return false;
  }
}

function isReadableFile(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
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

/** How a setting is written outside the program. */
export type SettingKind = 'string' | 'integer' | 'boolean' | 'list' | 'duration';

/** A scalar setting and its names: config file key, environment variable, flag. */
export interface Setting {
  key: Exclude<keyof AgentOptions, 'probeOptions'>;
  file: string;
  env: string;
  flag: string;
  kind: SettingKind;
  /** What it accepts, for messages and help. */
  accepted: string;
  /** Why a parsed value is not acceptable (appended to `accepted`), or undefined when it is. */
  check: (value: unknown) => string | undefined;
}

const ok = (test: boolean, why = ''): string | undefined => (test ? undefined : why);
const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);
const probeNames = (): string => BUILTIN_PROBES.map((p) => p.name).join(', ');

function netnsProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return '';
  try {
    resolveNetns(value);
    return undefined;
  } catch (error) {
    return ` (${(error as Error).message})`;
  }
}

function cgroupProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return '';
  try {
    resolveCgroup(value);
    return undefined;
  } catch (error) {
    return ` (${(error as Error).message})`;
  }
}

function capabilitiesKeepProblem(value: unknown): string | undefined {
  if (!Array.isArray(value) || !value.every((name) => typeof name === 'string')) return '';
  if (value.length === 1 && ['none', 'all'].includes(value[0].toLowerCase())) return undefined;
  const unknown = value.find((name) => parseCapability(name) === undefined);
  return unknown === undefined ? undefined : ` (${JSON.stringify(unknown)} is none of them)`;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'listen',
    file: 'listen',
    env: 'KERNSCOPE_LISTEN',
    flag: '--listen',
    kind: 'string',
    accepted: 'HOST:PORT, :PORT or [IPv6]:PORT',
    check: (value) => {
      try {
        parseListen(value as string);
        return undefined;
      } catch {
        return '';
      }
    },
  },
  {
    key: 'probes',
    file: 'probes',
    env: 'KERNSCOPE_PROBES',
    flag: '--probes',
    kind: 'list',
    get accepted() {
      return `a non-empty list of probes among ${probeNames()}`;
    },
    check: (value) => {
      const names = value as string[];
      const unknown = names.find((name) => !findProbe(name));
      if (unknown !== undefined) return ` (${JSON.stringify(unknown)} is none of them)`;
      return ok(names.length > 0);
    },
  },
  {
    key: 'strict',
    file: 'strict',
    env: 'KERNSCOPE_STRICT',
    flag: '--strict',
    kind: 'boolean',
    accepted: 'true or false',
    check: (value) => ok(typeof value === 'boolean'),
  },
  {
    key: 'tgid',
    file: 'pid',
    env: 'KERNSCOPE_PID',
    flag: '--pid',
    kind: 'integer',
    accepted: 'a positive process id',
    check: (value) => ok(isInteger(value) && value > 0 && value < 2 ** 31),
  },
  {
    key: 'cgroup',
    file: 'cgroup',
    env: 'KERNSCOPE_CGROUP',
    flag: '--cgroup',
    kind: 'string',
    accepted: 'an existing cgroup v2 directory (absolute, or relative to the cgroup2 mount)',
    check: cgroupProblem,
  },
  {
    key: 'comm',
    file: 'comm',
    env: 'KERNSCOPE_COMM',
    flag: '--comm',
    kind: 'string',
    accepted: COMM_ACCEPTED,
    check: (value) => ok(isComm(value)),
  },
  {
    key: 'netns',
    file: 'netns',
    env: 'KERNSCOPE_NETNS',
    flag: '--netns',
    kind: 'string',
    accepted: 'a network namespace file (/run/netns/NAME or /proc/PID/ns/net)',
    check: netnsProblem,
  },
  {
    key: 'ringBytes',
    file: 'ring_bytes',
    env: 'KERNSCOPE_RING_BYTES',
    flag: '--ring-bytes',
    kind: 'integer',
    accepted: 'a power of two of at least 4096',
    check: (value) => ok(isInteger(value) && isPowerOfTwo(value) && value >= 4096),
  },
  {
    key: 'wakeupBytes',
    file: 'wakeup_bytes',
    env: 'KERNSCOPE_WAKEUP_BYTES',
    flag: '--wakeup-bytes',
    kind: 'integer',
    accepted: 'an integer from 1 to the ring size',
    check: (value) => ok(isInteger(value) && value >= 1),
  },
  {
    key: 'drainIntervalMs',
    file: 'drain_interval_ms',
    env: 'KERNSCOPE_DRAIN_INTERVAL_MS',
    flag: '--drain-interval-ms',
    kind: 'integer',
    accepted: 'an integer from 1 to 10000',
    check: (value) => ok(isInteger(value) && value >= 1 && value <= 10000),
  },
  {
    key: 'syscallLatencyEvery',
    file: 'syscall_latency_every',
    env: 'KERNSCOPE_SYSCALL_LATENCY_EVERY',
    flag: '--syscall-latency-every',
    kind: 'integer',
    accepted: 'an integer from 1 (every call) to 65536',
    check: (value) => ok(isInteger(value) && value >= 1 && value <= 65536),
  },
  {
    key: 'maxSeriesPerMetric',
    file: 'max_series',
    env: 'KERNSCOPE_MAX_SERIES',
    flag: '--max-series',
    kind: 'integer',
    accepted: 'a positive integer',
    check: (value) => ok(isInteger(value) && value >= 1),
  },
  {
    key: 'seriesTtlMs',
    file: 'series_ttl',
    env: 'KERNSCOPE_SERIES_TTL',
    flag: '--series-ttl',
    kind: 'duration',
    accepted: '0 (never) or a duration of at least 1s: seconds, or a number with ms, s, m or h (600, 90s, 10m, 1h)',
    check: (value) => ok(isInteger(value) && (value === 0 || value >= 1000)),
  },
  {
    key: 'bpfStats',
    file: 'bpf_stats',
    env: 'KERNSCOPE_BPF_STATS',
    flag: '--bpf-stats',
    kind: 'boolean',
    accepted: 'true or false',
    check: (value) => ok(typeof value === 'boolean'),
  },
  {
    key: 'attribution',
    file: 'attribution',
    env: 'KERNSCOPE_ATTRIBUTION',
    flag: '--attribution',
    kind: 'boolean',
    accepted: 'true or false',
    check: (value) => ok(typeof value === 'boolean'),
  },
  {
    key: 'kubeconfig',
    file: 'kubeconfig',
    env: 'KERNSCOPE_KUBECONFIG',
    flag: '--kubeconfig',
    kind: 'string',
    accepted: 'a readable kubeconfig file',
    check: (value) => ok(typeof value === 'string' && isReadableFile(value)),
  },
  {
    key: 'otlpEndpoint',
    file: 'otlp_endpoint',
    env: 'KERNSCOPE_OTLP_ENDPOINT',
    flag: '--otlp-endpoint',
    kind: 'string',
    accepted: OTLP_ENDPOINT_ACCEPTED,
    check: (value) => ok(isOtlpEndpoint(value)),
  },
  {
    key: 'nodeName',
    file: 'node_name',
    env: 'KERNSCOPE_NODE_NAME',
    flag: '--node-name',
    kind: 'string',
    accepted: 'a Kubernetes node name (lower-case letters, digits, "-" and ".")',
    check: (value) => ok(typeof value === 'string' && /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(value)),
  },
  {
    key: 'webConfig',
    file: 'web_config',
    env: 'KERNSCOPE_WEB_CONFIG',
    flag: '--web-config',
    kind: 'string',
    accepted: 'a readable web config file (Prometheus exporter-toolkit format)',
    check: (value) => ok(typeof value === 'string' && isReadableFile(value)),
  },
  {
    key: 'capabilitiesKeep',
    file: 'capabilities_keep',
    env: 'KERNSCOPE_CAPABILITIES_KEEP',
    flag: '--capabilities-keep',
    kind: 'list',
    accepted: 'capability names (CAP_BPF or bpf), none, or all (drop nothing)',
    check: capabilitiesKeepProblem,
  },
  {
    key: 'logLevel',
    file: 'log_level',
    env: 'KERNSCOPE_LOG_LEVEL',
    flag: '--log-level',
    kind: 'string',
    accepted: LOG_LEVELS.join(', '),
    check: (value) => ok(LOG_LEVELS.includes(value as LogLevel)),
  },
];

/** Display names of the settings, by option key (default: the flag). */
export type SettingNames = Partial<Record<keyof AgentOptions, string>>;

export const FLAG_NAMES: SettingNames = Object.fromEntries(SETTINGS.map((s) => [s.key, s.flag]));

/** The error for `value` of `setting` if it is not acceptable, shown as `name`. */
export function settingError(setting: Setting, value: unknown, name: string): OptionError | undefined {
  const why = setting.check(value);
  return why === undefined ? undefined : new OptionError(name, value, setting.accepted + why);
}

/** Per-probe settings checked against the probe's definition; `prefix` names the probe (`probes.exec`). */
export function probeOptionErrors(probe: string, options: ProbeOptions, prefix: string, suffix = ''): OptionError[] {
  const errors: OptionError[] = [];
  const definition = findProbe(probe);
  if (!definition) return [new OptionError(`${prefix}${suffix}`, probe, `a probe among ${probeNames()}`)];
  const named = (key: string): string => `${prefix}.${key}${suffix}`;
  for (const [key, file] of [
    ['tgid', 'pid'],
    ['cgroup', 'cgroup'],
    ['comm', 'comm'],
  ] as const) {
    const value = options[key];
    const setting = SETTINGS.find((s) => s.key === key)!;
    const error = value === undefined ? undefined : settingError(setting, value, named(file));
    if (error) errors.push(error);
  }
  const optional = optionalLabelsOf(definition);
  for (const label of options.labels ?? []) {
    if (!optional.includes(label)) {
      const accepted = optional.length
        ? `optional labels of ${probe}: ${optional.join(', ')}`
        : `nothing: ${probe} has no optional labels`;
      errors.push(new OptionError(named('labels'), label, accepted));
    }
  }
  const histograms = histogramsOf(definition);
  for (const [metric, bounds] of Object.entries(options.buckets ?? {})) {
    const histogram = histograms.find((h) => h.name === metric);
    if (!histogram) {
      const accepted = histograms.length
        ? `histograms of ${probe}: ${histograms.map((h) => h.name).join(', ')}`
        : `nothing: ${probe} has no histograms`;
      errors.push(OptionError.unknownKey(named(`buckets.${metric}`), accepted));
      continue;
    }
    const problem = bucketProblem(histogram, histogramSlots(definition, histogram), bounds);
    if (problem) errors.push(new OptionError(named(`buckets.${metric}`), bounds, problem));
  }
  return errors;
}

/** Settings that may be unset: filters (every task, every namespace), OTLP off, no node name. */
const OPTIONAL_SETTINGS: readonly string[] = [
  'tgid',
  'cgroup',
  'comm',
  'netns',
  'otlpEndpoint',
  'nodeName',
  'kubeconfig',
  'webConfig',
];

/**
 * Checks every setting and the rules between settings; throws OptionError
 * (one problem) or OptionErrors (several). `names` says how to call each key
 * in messages (the flag by default; the config key or variable it came from).
 */
export function validateOptions(options: AgentOptions, names: SettingNames = FLAG_NAMES): AgentOptions {
  const errors: OptionError[] = [];
  const name = (setting: Setting): string => names[setting.key] ?? setting.flag;
  for (const setting of SETTINGS) {
    const value = options[setting.key];
    if (value === undefined && OPTIONAL_SETTINGS.includes(setting.key)) continue;
    const error = settingError(setting, value, name(setting));
    if (error) errors.push(error);
  }
  const wakeup = SETTINGS.find((s) => s.key === 'wakeupBytes')!;
  if (errors.length === 0 && options.wakeupBytes > options.ringBytes) {
    errors.push(
      new OptionError(name(wakeup), options.wakeupBytes, `an integer from 1 to the ring size (${options.ringBytes})`),
    );
  }
  for (const [probe, probeOptions] of Object.entries(options.probeOptions)) {
    errors.push(...probeOptionErrors(probe, probeOptions, `probes.${probe}`));
  }
  OptionErrors.throwIfAny(errors);
  return withoutSubsetProbes(options);
}

/** A probe that is part of another selected probe (`exec` of `process`) would count twice: only the whole runs. */
function withoutSubsetProbes(options: AgentOptions): AgentOptions {
  const selected = new Set(options.probes);
  const probes = [...selected].filter((name) => !selected.has(findProbe(name)?.subsetOf ?? ''));
  return probes.length === options.probes.length ? options : { ...options, probes };
}

/** The settings probe `name` runs with: its own filters, else the global ones. */
export function effectiveProbeOptions(options: AgentOptions, name: string): EffectiveProbeOptions {
  const own = options.probeOptions[name] ?? {};
  return {
    tgid: own.tgid ?? options.tgid,
    cgroup: own.cgroup ?? options.cgroup,
    comm: own.comm ?? options.comm,
    labels: own.labels ?? [],
    buckets: own.buckets ?? {},
  };
}
