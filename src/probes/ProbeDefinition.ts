// A probe is data: which BPF object, how to attach it (variants in order of
// preference), what it emits (ring records, or maps the kernel aggregates
// into) and which metrics those feed. Adding a probe is adding a file in this
// folder and a line in index.ts.
import type { AttachKind } from '../native/addon';

export interface AttachVariant {
  kind: AttachKind;
  /** Program (function) name in the BPF object. */
  program: string;
  /** Attach target for kinds that take one: `sched/sched_process_exec` (tracepoint), `sched_process_exec` (raw_tp). */
  target?: string;
  /**
   * Maps only this variant's program uses: created only when it is chosen, so
   * a kernel without their map type still loads the other variants.
   */
  maps?: string[];
}

/** Programs that do one job; exactly one of its variants is attached. */
export interface AttachPoint {
  name: string;
  variants: AttachVariant[];
}

/** A counter over ring records: +1 per record, labelled from record fields. */
export interface RecordCounterDefinition {
  type: 'counter';
  name: string;
  help: string;
  /** Label name -> record field that supplies its value. */
  labels: Record<string, string>;
  /** Labels (keys of `labels`) left off unless the probe's config turns them on: cardinality is opt-in. */
  optionalLabels?: string[];
  /**
   * Record field holding a cgroup v2 id (`hdr.cgroup_id`: the current task's)
   * that labels the counter `namespace`, `pod`, `container` when attribution is on.
   */
  cgroupField?: string;
}

/** A label read from a map key field; integers may be formatted (syscall number -> name). */
export interface KeyLabel {
  field: string;
  format?: (value: number) => string;
}

/** A metric read from a BPF map at collection time: the kernel aggregated it, per CPU. */
interface MapMetricBase {
  name: string;
  help: string;
  map: string;
  /** Struct names in the object's BTF; per-CPU values are summed. */
  key: string;
  value: string;
  labels: Record<string, KeyLabel>;
  /** Labels left off unless the probe's config turns them on; series that differ only in them are summed. */
  optionalLabels?: string[];
  /** u64 key field holding a cgroup v2 id: labels `namespace`, `pod`, `container` when attribution is on. */
  cgroupField?: string;
}

export interface MapCounterDefinition extends MapMetricBase {
  type: 'counter';
  /** u64 field of the value struct. */
  field: string;
}

/** A latency histogram in seconds (bpf/histogram.h, src/decode/latencySlots.ts): native buckets exactly. */
export interface MapHistogramDefinition extends MapMetricBase {
  type: 'histogram';
  /** u64 array field of the value struct, one per slot (its length, from BTF, says the schema). */
  slots: string;
  /** u64 field holding the exact sum of observed values. */
  sum: string;
  /** Seconds per unit of the sum: 1e-9, nanoseconds. */
  scale: number;
  /** Default classic bucket bounds in seconds; each a slot edge, a power of two at every schema. */
  bounds: number[];
}

export type MapMetricDefinition = MapCounterDefinition | MapHistogramDefinition;

/**
 * A label of a user probe's map key (ebpf_exporter's format): `size` bytes
 * at `offset`, through the label's decoders.
 */
export interface ByteLabel {
  name: string;
  offset: number;
  size: number;
  /** The label's value, or undefined to leave the sample out (a `regexp` that does not match). */
  decode: (bytes: Uint8Array) => string | undefined;
  /** Decoded with `cgroup`: the bytes are a cgroup v2 id, which attribution expands to namespace, pod, container. */
  cgroup?: boolean;
  /**
   * Decoded through a table of the system (cgroups, disks, interfaces, kernel
   * symbols): a value not found yet (`unknown...`) may be found later, so it is
   * decoded again rather than kept.
   */
  lookup?: boolean;
}

/** A user probe's histogram: each key holds one bucket's count, the bucket being the key's last label. */
export interface BucketedHistogram {
  /** Where the bucket label lies in the key (an unsigned integer). */
  offset: number;
  size: number;
  /** Bucket key values, ascending, and each one's upper bound in the exported unit. */
  keys: number[];
  bounds: number[];
  /** The key value whose count is the sum of the observed values (ebpf_exporter's bucket_max + 1), if any. */
  sumKey?: number;
  /** Exported unit per unit of the sum. */
  sumScale: number;
}

/** A user probe's map metric: labels from the key's bytes, the value one u64 (summed over CPUs). */
export interface UserMapMetricDefinition {
  type: 'counter' | 'histogram';
  name: string;
  help: string;
  map: string;
  keySize: number;
  /** The key's labels in order (a histogram's without its bucket). */
  labels: ByteLabel[];
  histogram?: BucketedHistogram;
  /**
   * A per-CPU map whose last label is `cpu` (ebpf_exporter's convention):
   * each CPU's value is a row of its own, its index a u16 after the key
   * (`replaceKey`: instead of the key, a one-entry array's u32 0).
   */
  perCpuRows?: { replaceKey: boolean };
}

/** A decoded ring record: each field by its dotted name (`hdr.tgid`, `comm`, `latency_ns`). */
export type DecodedRecord = Record<string, number | string | Uint8Array>;

/** One field of a traced event: its JSON key, its table heading, and how to read it from the record. */
export interface TraceColumn {
  /** JSON key, with the unit where it has one (`latency_ms`, `bytes`). */
  name: string;
  /** Table heading; the column is as wide as the longer of heading and `width`. */
  heading: string;
  width: number;
  /** The JSON value; the table prints it as text (numbers as they are). */
  value: (record: DecodedRecord) => string | number;
  /** The last column may be long (a file name, an address pair): not padded. */
  last?: boolean;
}

/** A ring record, named as the object's BTF has it (resolved once: decode/ResolvedRecord). */
export interface RecordSpec {
  /** The record struct. */
  struct: string;
  /** Its name in the object's `enum ks_record_type`. */
  type: string;
  /** The layout version this decoder reads (hdr.version). */
  version: number;
}

/**
 * What `kernscope trace` shows of a probe: one record of the probe's ring
 * (`record`) per event. The time, pid and comm columns come first for every
 * probe (`hdr.ts_ns`, `pidField` and the record's `comm` field); `columns`
 * are the probe's own.
 */
export interface TraceDefinition {
  /**
   * Records only while the loader sets `targ_trace` (probes that aggregate in
   * the kernel); false for probes whose records always flow (exec, oom).
   */
  optIn: boolean;
  /** `targ_trace_min_ns` applies (--min-latency): events faster than it send no record. */
  minLatency?: boolean;
  /** The record field with the process the event belongs to; `hdr.tgid` (the current task) unless set. */
  pidField?: string;
  columns: TraceColumn[];
}

/**
 * What a probe's programs run on: what its cost to a busy service grows with
 * (measured per probe by bench/services.ts, published in README).
 * - `per-event`: events a service makes few of per request (execs, forks,
 *   exits, TCP state changes and retransmits, block I/O requests, OOM kills);
 * - `per-switch`: every context switch and wakeup;
 * - `per-syscall`: every system call of every task; any program there also
 *   puts every task's system calls on the kernel's slow path. Not in the
 *   default set.
 * - `user`: a user probe's; what its programs run on is theirs to know.
 */
export type ProbeCost = 'per-event' | 'per-switch' | 'per-syscall' | 'user';

export interface ProbeDefinition {
  name: string;
  summary: string;
  cost: ProbeCost;
  /** File in dist/bpf/, or a user probe's NAME.bpf.o (an absolute path). */
  object: string;
  /**
   * Name of a probe whose object and attach points include all of this one's
   * (`exec` is part of `process`): selecting both would count twice, so the
   * options keep only the larger one.
   */
  subsetOf?: string;
  attach: AttachPoint[];
  /** Maps of a shared object that this probe's programs never use: not created. */
  skipMaps?: string[];
  /**
   * Every attach point must use the same kind of variant (enter and exit
   * sharing per-thread state that each kind keeps in its own map): a kind
   * that fails at one point is dropped at all of them.
   */
  sameKindAtEveryPoint?: boolean;
  /**
   * The record of the probe's ring, if it has one: always flowing when the
   * probe has record metrics, only while tracing when `trace.optIn`.
   */
  record?: RecordSpec;
  /** The object has `targ_netns`: a network-namespace filter (--netns) for socket events. */
  netnsFilter?: boolean;
  /** The object has `targ_attribute`: set, its maps key by cgroup (see `cgroupField`). */
  cgroupKeys?: boolean;
  /** The object has `targ_latency_every`: its latency histogram may be measured on a sample of events. */
  latencySampling?: boolean;
  /** Events for `kernscope trace`. */
  trace?: TraceDefinition;
  /** Maps only trace records use: shrunk to one entry unless tracing (the agent never fills them). */
  traceMaps?: string[];
  recordMetrics: RecordCounterDefinition[];
  mapMetrics: MapMetricDefinition[];
  /** A user probe (--probe-dir): where it came from, and its metrics in ebpf_exporter's format. */
  user?: UserProbeSource;
}

/** Where a user probe came from, and what its config asks beyond its metrics. */
export interface UserProbeSource {
  /** NAME.yaml. */
  config: string;
  /** Kernel symbols whose addresses fill `const volatile u64 kaddr_<symbol>` before load. */
  kaddrs: string[];
  metrics: UserMapMetricDefinition[];
  /** The ring buffer `kernscope trace` prints (the config's `trace`), each record walked as a key is. */
  trace?: { ringbuf: string; labels: ByteLabel[] };
}
