// NAME.yaml of a user probe, in ebpf_exporter's config format, read strictly:
// every key it has is understood as there, and anything else (an unknown
// key, a wrong type, a bucket range that cannot work) is one UserProbeError
// naming the file, the key and the fix, where ebpf_exporter would ignore it
// or fail at scrape time.
import { YamlFileError } from '../yamlfile/YamlFileError';
import { parseYamlFile } from '../yamlfile/yamlFile';
import type { DecoderConfig } from './decoders';
import { DECODERS } from './decoders';
import { UserProbeError } from './UserProbeError';

export interface LabelConfig {
  name: string;
  size: number;
  padding: number;
  decoders: DecoderConfig[];
}

export type BucketType = 'exp2' | 'exp2zero' | 'linear' | 'fixed';

export interface MetricConfig {
  kind: 'counter' | 'histogram';
  /** Where it is in the file: `metrics.counters[0]`. */
  key: string;
  name: string;
  help: string;
  labels: LabelConfig[];
  bucketType?: BucketType;
  bucketMin: number;
  bucketMax: number;
  bucketMultiplier: number;
  bucketKeys: number[];
}

/** kernscope's own section (ebpf_exporter ignores it): a ring buffer's records, for `kernscope trace`. */
export interface TraceConfig {
  ringbuf: string;
  labels: LabelConfig[];
}

export interface UserProbeConfig {
  metrics: MetricConfig[];
  kaddrs: string[];
  trace?: TraceConfig;
}

const BUCKET_TYPES: readonly BucketType[] = ['exp2', 'exp2zero', 'linear', 'fixed'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

type Plain = Record<string, unknown>;
const isPlain = (value: unknown): value is Plain =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const typeOf = (value: unknown): string =>
  Array.isArray(value) ? 'a list' : value === null ? 'nothing' : typeof value;

/** Reads one file, each check naming the key it is about. */
class Reader {
  constructor(private readonly file: string) {}

  fail(key: string, problem: string): never {
    throw new UserProbeError(this.file, key, problem);
  }

  /** A mapping with only `allowed` keys (`ignored` ones are ebpf_exporter's and may be present). */
  mapping(value: unknown, key: string, allowed: readonly string[]): Plain {
    if (!isPlain(value)) this.fail(key, `expected a mapping of ${allowed.join(', ')}, got ${typeOf(value)}`);
    for (const name of Object.keys(value)) {
      if (!allowed.includes(name)) {
        this.fail(`${key ? `${key}.` : ''}${name}`, `unknown key; expected one of ${allowed.join(', ')}`);
      }
    }
    return value;
  }

  list(value: unknown, key: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(key, `expected a list, got ${typeOf(value)}`);
    return value;
  }

  text(value: unknown, key: string, pattern?: RegExp, accepted = 'text'): string {
    if (typeof value !== 'string' || value === '' || (pattern && !pattern.test(value))) {
      this.fail(key, `expected ${accepted}, got ${JSON.stringify(value) ?? 'nothing'}`);
    }
    return value;
  }

  integer(value: unknown, key: string, min: number, fallback?: number): number {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.fail(key, `expected an integer of at least ${min}, got ${JSON.stringify(value) ?? 'nothing'}`);
    }
    return value;
  }

  number(value: unknown, key: string, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.fail(key, `expected a number, got ${JSON.stringify(value)}`);
    }
    return value;
  }
}

function decoderOf(reader: Reader, raw: unknown, key: string, first: boolean, size: number): DecoderConfig {
  const decoder = reader.mapping(raw, key, ['name', 'static_map', 'regexps', 'allow_unknown']);
  const name = reader.text(decoder.name, `${key}.name`);
  const kind = DECODERS[name];
  if (!kind)
    reader.fail(`${key}.name`, `unknown decoder '${name}'; expected one of ${Object.keys(DECODERS).join(', ')}`);
  if (first && kind.text) {
    reader.fail(`${key}.name`, `${name} reads the decimal text of a number: put a uint decoder before it`);
  }
  if (first && kind.size && !kind.size.fits(size)) {
    reader.fail(`${key}.name`, `${name} reads ${kind.size.accepted} bytes, but the label's size is ${size}`);
  }
  const config: DecoderConfig = { name };
  if (decoder.static_map !== undefined) {
    const map = reader.mapping(decoder.static_map, `${key}.static_map`, Object.keys(decoder.static_map ?? {}));
    config.static_map = Object.fromEntries(Object.entries(map).map(([from, to]) => [from, String(to)]));
  }
  if (decoder.regexps !== undefined) {
    config.regexps = reader
      .list(decoder.regexps, `${key}.regexps`)
      .map((r, i) => reader.text(r, `${key}.regexps[${i}]`));
  }
  if (decoder.allow_unknown !== undefined) {
    if (typeof decoder.allow_unknown !== 'boolean') reader.fail(`${key}.allow_unknown`, 'expected true or false');
    config.allow_unknown = decoder.allow_unknown;
  }
  return config;
}

function labelOf(reader: Reader, raw: unknown, key: string): LabelConfig {
  const label = reader.mapping(raw, key, ['name', 'size', 'padding', 'decoders']);
  const name = reader.text(label.name, `${key}.name`, LABEL_NAME, 'a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)');
  const size = reader.integer(label.size, `${key}.size`, 1);
  const padding = reader.integer(label.padding, `${key}.padding`, 0, 0);
  const decoders = reader.list(label.decoders, `${key}.decoders`);
  if (decoders.length === 0) reader.fail(`${key}.decoders`, 'no decoders; add at least one (uint for a number)');
  return {
    name,
    size,
    padding,
    decoders: decoders.map((d, i) => decoderOf(reader, d, `${key}.decoders[${i}]`, i === 0, size)),
  };
}

const COUNTER_KEYS = ['name', 'help', 'labels', 'perf_event_array', 'flush_interval'];
const HISTOGRAM_KEYS = [
  'name',
  'help',
  'labels',
  'bucket_type',
  'bucket_min',
  'bucket_max',
  'bucket_multiplier',
  'bucket_keys',
];

function metricOf(reader: Reader, raw: unknown, key: string, kind: MetricConfig['kind']): MetricConfig {
  const metric = reader.mapping(raw, key, kind === 'counter' ? COUNTER_KEYS : HISTOGRAM_KEYS);
  if (metric.perf_event_array !== undefined || metric.flush_interval !== undefined) {
    reader.fail(
      `${key}.perf_event_array`,
      'counters from perf event arrays are not supported; count in a hash map instead',
    );
  }
  const name = reader.text(metric.name, `${key}.name`, METRIC_NAME, 'a Prometheus metric name');
  const labels = reader.list(metric.labels, `${key}.labels`).map((l, i) => labelOf(reader, l, `${key}.labels[${i}]`));
  const config: MetricConfig = {
    kind,
    key,
    name,
    help: reader.text(metric.help, `${key}.help`),
    labels,
    bucketMin: 0,
    bucketMax: 0,
    bucketMultiplier: 1,
    bucketKeys: [],
  };
  if (kind === 'counter') return config;
  const type = metric.bucket_type;
  if (!BUCKET_TYPES.includes(type as BucketType)) {
    reader.fail(
      `${key}.bucket_type`,
      `expected one of ${BUCKET_TYPES.join(', ')}, got ${JSON.stringify(type) ?? 'nothing'}`,
    );
  }
  config.bucketType = type as BucketType;
  const multiplier = reader.number(metric.bucket_multiplier, `${key}.bucket_multiplier`, 1);
  config.bucketMultiplier = multiplier === 0 ? 1 : multiplier; // ebpf_exporter reads 0 as 1
  const bucket = labels.at(-1);
  if (!bucket) reader.fail(`${key}.labels`, 'a histogram needs its bucket as the last label (size 1-8, decoder uint)');
  if (bucket.decoders.length !== 1 || bucket.decoders[0].name !== 'uint') {
    reader.fail(
      `${key}.labels[${labels.length - 1}].decoders`,
      'the bucket (the last label) must be decoded with uint alone',
    );
  }
  if (type === 'fixed') {
    const keys = reader.list(metric.bucket_keys, `${key}.bucket_keys`);
    config.bucketKeys = keys.map((k, i) => reader.integer(k, `${key}.bucket_keys[${i}]`, 0));
    if (config.bucketKeys.length === 0)
      reader.fail(`${key}.bucket_keys`, 'a fixed histogram needs its bucket keys, ascending');
    if (config.bucketKeys.some((k, i) => i > 0 && k <= config.bucketKeys[i - 1])) {
      reader.fail(`${key}.bucket_keys`, 'bucket keys must be ascending');
    }
    return config;
  }
  config.bucketMin = reader.integer(metric.bucket_min, `${key}.bucket_min`, 0, 0);
  config.bucketMax = reader.integer(metric.bucket_max, `${key}.bucket_max`, 0);
  if (config.bucketMax <= config.bucketMin) {
    reader.fail(`${key}.bucket_max`, `must be above bucket_min (${config.bucketMin})`);
  }
  if (type !== 'linear' && config.bucketMax > 1023)
    reader.fail(`${key}.bucket_max`, 'an exp2 bucket_max is at most 1023');
  return config;
}

/** The user probe config in `text` (the file `file`), or a UserProbeError. */
export function parseUserProbeConfig(text: string, file: string): UserProbeConfig {
  const reader = new Reader(file);
  let value: unknown;
  try {
    value = parseYamlFile(text, file);
  } catch (error) {
    if (!(error instanceof YamlFileError)) throw error;
    reader.fail('', `cannot ${error.verb}: ${error.problem}`);
  }
  const root = reader.mapping(value, '', ['metrics', 'kaddrs', 'tracing', 'cgroup_id_map', 'trace']);
  if (root.tracing !== undefined) {
    reader.fail(
      'tracing',
      'spans are not supported: remove the section (a `trace:` section shows records in kernscope trace)',
    );
  }
  if (root.cgroup_id_map !== undefined) {
    reader.fail('cgroup_id_map', 'not supported: filter by cgroup in the BPF program, or use kernscope run --cgroup');
  }
  const metrics = reader.mapping(root.metrics ?? {}, 'metrics', ['counters', 'histograms']);
  const configs = [
    ...reader
      .list(metrics.counters, 'metrics.counters')
      .map((m, i) => metricOf(reader, m, `metrics.counters[${i}]`, 'counter')),
    ...reader
      .list(metrics.histograms, 'metrics.histograms')
      .map((m, i) => metricOf(reader, m, `metrics.histograms[${i}]`, 'histogram')),
  ];
  if (configs.length === 0) reader.fail('metrics', 'no counters or histograms; add at least one');
  const names = configs.map((c) => c.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice) reader.fail('metrics', `metric ${twice} is defined twice; each metric reads the map of its name`);
  const kaddrs = reader
    .list(root.kaddrs, 'kaddrs')
    .map((s, i) => reader.text(s, `kaddrs[${i}]`, /^[\w.$]+$/, 'a kernel symbol'));
  const config: UserProbeConfig = { metrics: configs, kaddrs };
  if (root.trace !== undefined) {
    const trace = reader.mapping(root.trace, 'trace', ['ringbuf', 'labels']);
    const labels = reader.list(trace.labels, 'trace.labels').map((l, i) => labelOf(reader, l, `trace.labels[${i}]`));
    if (labels.length === 0) reader.fail('trace.labels', "no labels; describe the record's fields");
    config.trace = {
      ringbuf: reader.text(trace.ringbuf, 'trace.ringbuf', undefined, 'a ring buffer map name'),
      labels,
    };
  }
  return config;
}
