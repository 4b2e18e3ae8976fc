// The agent's options: the type, and the defaults in one place. Where each
// setting comes from and what it accepts is the SETTINGS table (settings.ts);
// validateOptions (validateOptions.ts) checks a whole AgentOptions.
import type { LogLevel } from '../log';
import { DEFAULT_PROBES } from '../probes';
import { DEFAULT_METRIC_PREFIX } from '../userprobes/userProbes';
import type { EffectiveProbeOptions, ProbeOptions } from './probeOptions';

export interface AgentOptions {
  /** HTTP listen address: `:9478`, `127.0.0.1:9478`, `[::1]:9478`. */
  listen: string;
  /** Probe names to run. */
  probes: string[];
  /** Directories of user probes: NAME.yaml (ebpf_exporter's format) + NAME.bpf.o, each the probe NAME. */
  probeDirs: string[];
  /** Prefix of user probes' metric names (`ebpf_exporter_` keeps an ebpf_exporter user's dashboards working). */
  metricPrefix: string;
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
  /** Latency histograms' native schema: 2^schema buckets per power of two (bpf/histogram.h). */
  histogramSchema: number;
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
  probeDirs: [],
  metricPrefix: DEFAULT_METRIC_PREFIX,
  strict: false,
  ringBytes: 4 * 1024 * 1024,
  wakeupBytes: 1024 * 1024,
  drainIntervalMs: 20,
  syscallLatencyEvery: 16,
  // Schema 0 (66 slots): twice the kernel memory of the classic 32 log2 slots; each step up doubles it.
  histogramSchema: 0,
  maxSeriesPerMetric: 2000,
  seriesTtlMs: 10 * 60 * 1000,
  bpfStats: false,
  attribution: true,
  logLevel: 'info',
  capabilitiesKeep: [],
  probeOptions: {},
};

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
