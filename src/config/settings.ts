// The SETTINGS table: each scalar setting once, with its three names (config
// file key, KERNSCOPE_* variable, flag), how it is written, what it accepts
// and its help. The file, environment and flag readers (loadConfig.ts), the
// checks (validateOptions.ts) and `kernscope run`'s flags and help
// (settingFlags.ts) all come from it: a new setting is a new row.
import { MAX_SCHEMA } from '../decode/latencySlots';
import type { LogLevel } from '../log';
import type { AgentOptions } from './AgentOptions';
import { LOG_LEVELS } from './AgentOptions';
import { LISTEN_ACCEPTED } from './listenAddress';
import { OptionError } from './OptionError';
import { OTLP_ENDPOINT_ACCEPTED, isOtlpEndpoint } from './otlpSettings';
import { COMM_ACCEPTED, isComm } from './probeOptions';
import type { Check } from './settingChecks';
import {
  booleanProblem,
  probeNames,
  perSyscallProbeNames,
  capabilitiesKeepProblem,
  directoriesProblem,
  cgroupProblem,
  isInteger,
  isPowerOfTwo,
  listenProblem,
  netnsProblem,
  ok,
  probesProblem,
  readableFileProblem,
} from './settingChecks';

/** How a setting is written outside the program. */
export type SettingKind = 'string' | 'integer' | 'boolean' | 'list' | 'duration';

/** A scalar setting and its names: config file key, environment variable, flag. */
export interface Setting {
  key: Exclude<keyof AgentOptions, 'probeOptions'>;
  file: string;
  env: string;
  flag: string;
  kind: SettingKind;
  /** The flag's value in help (ADDR, N); absent: the flag is a switch and takes none (--strict). */
  placeholder?: string;
  /** The flag may be given more than once, each adding to the list. */
  repeatable?: boolean;
  /** What it does, for help; settingFlags.ts adds the default. */
  help: string;
  /** What it accepts, for messages. */
  accepted: string;
  check: Check;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'listen',
    file: 'listen',
    env: 'KERNSCOPE_LISTEN',
    flag: '--listen',
    kind: 'string',
    placeholder: 'ADDR',
    help: 'HTTP address of /metrics, /healthz and /readyz, e.g. 127.0.0.1:9478',
    accepted: LISTEN_ACCEPTED,
    check: listenProblem,
  },
  {
    key: 'probes',
    file: 'probes',
    env: 'KERNSCOPE_PROBES',
    flag: '--probes',
    kind: 'list',
    placeholder: 'LIST',
    get help() {
      return `comma-separated probes, see kernscope probes; the per-syscall ones (${perSyscallProbeNames()}) are not in the default`;
    },
    get accepted() {
      return `a non-empty list of probes among ${probeNames()}`;
    },
    check: probesProblem,
  },
  {
    key: 'probeDirs',
    file: 'probe_dirs',
    env: 'KERNSCOPE_PROBE_DIRS',
    flag: '--probe-dir',
    kind: 'list',
    placeholder: 'DIR',
    repeatable: true,
    help: 'user probes: each NAME.yaml (ebpf_exporter format) + NAME.bpf.o here is the probe NAME; repeatable',
    accepted: 'readable directories',
    check: directoriesProblem,
  },
  {
    key: 'metricPrefix',
    file: 'metric_prefix',
    env: 'KERNSCOPE_METRIC_PREFIX',
    flag: '--metric-prefix',
    kind: 'string',
    placeholder: 'PREFIX',
    help: "prefix of user probes' metric names (ebpf_exporter_ keeps ebpf_exporter's names)",
    accepted: 'a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*, or empty)',
    check: (value) => ok(typeof value === 'string' && /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(value)),
  },
  {
    key: 'strict',
    file: 'strict',
    env: 'KERNSCOPE_STRICT',
    flag: '--strict',
    kind: 'boolean',
    help: 'exit non-zero when any probe cannot attach',
    accepted: 'true or false',
    check: booleanProblem,
  },
  {
    key: 'tgid',
    file: 'pid',
    env: 'KERNSCOPE_PID',
    flag: '--pid',
    kind: 'integer',
    placeholder: 'TGID',
    help: 'only events of this process',
    accepted: 'a positive process id',
    check: (value) => ok(isInteger(value) && value > 0 && value < 2 ** 31),
  },
  {
    key: 'cgroup',
    file: 'cgroup',
    env: 'KERNSCOPE_CGROUP',
    flag: '--cgroup',
    kind: 'string',
    placeholder: 'PATH',
    help: 'only events of this cgroup v2 directory and below',
    accepted: 'an existing cgroup v2 directory (absolute, or relative to the cgroup2 mount)',
    check: cgroupProblem,
  },
  {
    key: 'comm',
    file: 'comm',
    env: 'KERNSCOPE_COMM',
    flag: '--comm',
    kind: 'string',
    placeholder: 'NAME',
    help: 'only events of tasks with this command name',
    accepted: COMM_ACCEPTED,
    check: (value) => ok(isComm(value)),
  },
  {
    key: 'netns',
    file: 'netns',
    env: 'KERNSCOPE_NETNS',
    flag: '--netns',
    kind: 'string',
    placeholder: 'FILE',
    help: 'only sockets in this network namespace (tcp; /run/netns/NAME, /proc/PID/ns/net)',
    accepted: 'a network namespace file (/run/netns/NAME or /proc/PID/ns/net)',
    check: netnsProblem,
  },
  {
    key: 'ringBytes',
    file: 'ring_bytes',
    env: 'KERNSCOPE_RING_BYTES',
    flag: '--ring-bytes',
    kind: 'integer',
    placeholder: 'N',
    help: 'ring buffer bytes per probe',
    accepted: 'a power of two of at least 4096',
    check: (value) => ok(isInteger(value) && isPowerOfTwo(value) && value >= 4096),
  },
  {
    key: 'wakeupBytes',
    file: 'wakeup_bytes',
    env: 'KERNSCOPE_WAKEUP_BYTES',
    flag: '--wakeup-bytes',
    kind: 'integer',
    placeholder: 'N',
    help: 'wake the reader once N bytes wait; unless given, at most a quarter of the ring',
    accepted: 'an integer from 1 to the ring size',
    check: (value) => ok(isInteger(value) && value >= 1),
  },
  {
    key: 'drainIntervalMs',
    file: 'drain_interval_ms',
    env: 'KERNSCOPE_DRAIN_INTERVAL_MS',
    flag: '--drain-interval-ms',
    kind: 'integer',
    placeholder: 'N',
    help: 'timed drain period, the latency bound',
    accepted: 'an integer from 1 to 10000',
    check: (value) => ok(isInteger(value) && value >= 1 && value <= 10000),
  },
  {
    key: 'syscallLatencyEvery',
    file: 'syscall_latency_every',
    env: 'KERNSCOPE_SYSCALL_LATENCY_EVERY',
    flag: '--syscall-latency-every',
    kind: 'integer',
    placeholder: 'N',
    help: 'syscalls: measure the latency of 1 in N calls per CPU, 1: every call; counts and errors are always exact',
    accepted: 'an integer from 1 (every call) to 65536',
    check: (value) => ok(isInteger(value) && value >= 1 && value <= 65536),
  },
  {
    key: 'histogramSchema',
    file: 'histogram_schema',
    env: 'KERNSCOPE_HISTOGRAM_SCHEMA',
    flag: '--histogram-schema',
    kind: 'integer',
    placeholder: 'N',
    help: 'latency histograms: 2^N native buckets per power of two; kernel memory per series grows with 2^N',
    accepted: 'an integer from 0 to 3',
    check: (value) => ok(isInteger(value) && value >= 0 && value <= MAX_SCHEMA),
  },
  {
    key: 'maxSeriesPerMetric',
    file: 'max_series',
    env: 'KERNSCOPE_MAX_SERIES',
    flag: '--max-series',
    kind: 'integer',
    placeholder: 'N',
    help: 'series per metric before __overflow__',
    accepted: 'a positive integer',
    check: (value) => ok(isInteger(value) && value >= 1),
  },
  {
    key: 'seriesTtlMs',
    file: 'series_ttl',
    env: 'KERNSCOPE_SERIES_TTL',
    flag: '--series-ttl',
    kind: 'duration',
    placeholder: 'DURATION',
    help: 'drop series unchanged this long; 0: never',
    accepted: '0 (never) or a duration of at least 1s: seconds, or a number with ms, s, m or h (600, 90s, 10m, 1h)',
    check: (value) => ok(isInteger(value) && (value === 0 || value >= 1000)),
  },
  {
    key: 'bpfStats',
    file: 'bpf_stats',
    env: 'KERNSCOPE_BPF_STATS',
    flag: '--bpf-stats',
    kind: 'boolean',
    help: 'export BPF program run counts and time (BPF_ENABLE_STATS)',
    accepted: 'true or false',
    check: booleanProblem,
  },
  {
    key: 'attribution',
    file: 'attribution',
    env: 'KERNSCOPE_ATTRIBUTION',
    flag: '--attribution',
    kind: 'boolean',
    placeholder: 'BOOL',
    help: 'namespace/pod/container labels from cgroups',
    accepted: 'true or false',
    check: booleanProblem,
  },
  {
    key: 'kubeconfig',
    file: 'kubeconfig',
    env: 'KERNSCOPE_KUBECONFIG',
    flag: '--kubeconfig',
    kind: 'string',
    placeholder: 'FILE',
    help: 'watch pods through this kubeconfig, not the in-cluster service account',
    accepted: 'a readable kubeconfig file',
    check: readableFileProblem,
  },
  {
    key: 'otlpEndpoint',
    file: 'otlp_endpoint',
    env: 'KERNSCOPE_OTLP_ENDPOINT',
    flag: '--otlp-endpoint',
    kind: 'string',
    placeholder: 'URL',
    help: 'also push metrics over OTLP/gRPC (http://HOST:4317, https:// for TLS); also OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT and the other OTEL_* variables',
    accepted: OTLP_ENDPOINT_ACCEPTED,
    check: (value) => ok(isOtlpEndpoint(value)),
  },
  {
    key: 'nodeName',
    file: 'node_name',
    env: 'KERNSCOPE_NODE_NAME',
    flag: '--node-name',
    kind: 'string',
    placeholder: 'NAME',
    help: 'Kubernetes node name for the OTLP resource (k8s.node.name)',
    accepted: 'a Kubernetes node name (lower-case letters, digits, "-" and ".")',
    check: (value) => ok(typeof value === 'string' && /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(value)),
  },
  {
    key: 'webConfig',
    file: 'web_config',
    env: 'KERNSCOPE_WEB_CONFIG',
    flag: '--web-config',
    kind: 'string',
    placeholder: 'FILE',
    help: 'TLS and basic auth of the HTTP address: a Prometheus exporter-toolkit web config file',
    accepted: 'a readable web config file (Prometheus exporter-toolkit format)',
    check: readableFileProblem,
  },
  {
    key: 'capabilitiesKeep',
    file: 'capabilities_keep',
    env: 'KERNSCOPE_CAPABILITIES_KEEP',
    flag: '--capabilities-keep',
    kind: 'list',
    placeholder: 'LIST',
    help: 'capabilities to keep once every probe is attached (CAP_BPF or bpf, comma-separated), besides what the agent still needs; none, or all to drop nothing',
    accepted: 'capability names (CAP_BPF or bpf), none, or all (drop nothing)',
    check: capabilitiesKeepProblem,
  },
  {
    key: 'logLevel',
    file: 'log_level',
    env: 'KERNSCOPE_LOG_LEVEL',
    flag: '--log-level',
    kind: 'string',
    placeholder: 'LEVEL',
    help: `log messages of this level and above: ${LOG_LEVELS.join(', ')}`,
    accepted: LOG_LEVELS.join(', '),
    check: (value) => ok(LOG_LEVELS.includes(value as LogLevel)),
  },
];

/** The row of `key`. */
export function settingOf(key: Setting['key']): Setting {
  return SETTINGS.find((s) => s.key === key)!;
}

/** Display names of the settings, by option key (default: the flag). */
export type SettingNames = Partial<Record<keyof AgentOptions, string>>;

export const FLAG_NAMES: SettingNames = Object.fromEntries(SETTINGS.map((s) => [s.key, s.flag]));

/** The error for `value` of `setting` if it is not acceptable, shown as `name`. */
export function settingError(setting: Setting, value: unknown, name: string): OptionError | undefined {
  const why = setting.check(value);
  return why === undefined ? undefined : new OptionError(name, value, setting.accepted + why);
}
