// User probes from probe directories: DIR/NAME.yaml (ebpf_exporter's format)
// and DIR/NAME.bpf.o form the probe NAME, checked against each other before
// anything loads: every program's section must be one kernscope attaches,
// every metric's map (the map of the metric's name) must exist with u64
// values and a key the labels' sizes add up to. What passes becomes a
// ProbeDefinition, selected, loaded, exported and listed as built-in ones are.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import type { MapInfo, NativeBpfObject } from '../native/addon';
import { BpfError, addon } from '../native/addon';
import { BUILTIN_PROBES } from '../probes';
import type {
  AttachPoint,
  BucketedHistogram,
  ByteLabel,
  ProbeDefinition,
  TraceDefinition,
  UserMapMetricDefinition,
} from '../probes/ProbeDefinition';
import type { Decode } from './decoders';
import { DECODERS, DecoderProblem, chain } from './decoders';
import { verifyUserObject } from './objectSum';
import { SUPPORTED_SECTIONS, variantOfSection } from './sections';
import type { LabelConfig, MetricConfig, TraceConfig } from './userProbeConfig';
import { parseUserProbeConfig } from './userProbeConfig';
import { UserProbeError } from './UserProbeError';
import { YamlFileError } from '../yamlfile/YamlFileError';
import { readYamlFile } from '../yamlfile/yamlFile';

export const DEFAULT_METRIC_PREFIX = 'kernscope_';
const PROBE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const PER_CPU_MAPS = ['percpu_hash', 'percpu_array', 'lru_percpu_hash'];

/** Refuses a file any user may write: whoever writes it chooses what the agent loads into the kernel. */
function checkNotWorldWritable(file: string): void {
  const mode = statSync(file).mode;
  if (mode & 0o002) {
    throw new UserProbeError(
      file,
      '',
      `writable by every user, so anyone could choose what the agent loads; chmod o-w ${file}`,
    );
  }
}

function bucketsOf(metric: MetricConfig, offset: number, size: number): BucketedHistogram {
  const m = metric.bucketMultiplier;
  if (metric.bucketType === 'fixed') {
    const keys = metric.bucketKeys;
    return { offset, size, keys, bounds: keys.map((k) => k * m), sumKey: keys[keys.length - 1] + 1, sumScale: m };
  }
  const keys = Array.from({ length: metric.bucketMax - metric.bucketMin + 1 }, (_, i) => metric.bucketMin + i);
  const bound = {
    exp2: (i: number) => 2 ** i * m,
    exp2zero: (i: number) => (i === 0 ? 0 : 2 ** (i - 1) * m),
    linear: (i: number) => i * m,
  }[metric.bucketType as 'exp2' | 'exp2zero' | 'linear'];
  return { offset, size, keys, bounds: keys.map(bound), sumKey: metric.bucketMax + 1, sumScale: m };
}

/** Labels walked over a key or record: each at its offset, decoded by its chain. */
function byteLabelsOf(configs: LabelConfig[], fail: (key: string, problem: string) => never): ByteLabel[] {
  let offset = 0;
  return configs.map((label, i) => {
    const decoders: Decode[] = label.decoders.map((decoder, d) => {
      try {
        return DECODERS[decoder.name].build(decoder);
      } catch (error) {
        if (!(error instanceof DecoderProblem)) throw error;
        return fail(`.labels[${i}].decoders[${d}]`, error.message);
      }
    });
    const byteLabel: ByteLabel = { name: label.name, offset, size: label.size, decode: chain(decoders) };
    if (label.decoders.some((d) => d.name === 'cgroup') && label.size === 8) byteLabel.cgroup = true;
    if (label.decoders.some((d) => DECODERS[d.name].lookup)) byteLabel.lookup = true;
    offset += label.size + label.padding;
    return byteLabel;
  });
}

/** What `kernscope trace` shows of a user probe: each record's labels, pid and comm where it has them. */
function traceOf(config: TraceConfig, maps: MapInfo[], file: string, objectName: string) {
  const ring = maps.find((m) => m.name === config.ringbuf);
  if (ring?.type !== 'ringbuf') {
    throw new UserProbeError(file, 'trace.ringbuf', `${objectName} has no ring buffer map ${config.ringbuf}`);
  }
  const labels = byteLabelsOf(config.labels, (key, problem) => {
    throw new UserProbeError(file, `trace${key}`, problem);
  });
  const trace: TraceDefinition = {
    optIn: false,
    pidField: 'pid',
    columns: labels
      .filter((label) => label.name !== 'pid' && label.name !== 'comm')
      .map((label, i, all) => ({
        name: label.name,
        heading: label.name.toUpperCase(),
        width: Math.max(8, label.name.length),
        value: (record) => record[label.name] as string | number,
        last: i === all.length - 1,
      })),
  };
  return { source: { ringbuf: config.ringbuf, labels }, trace };
}

function metricOf(
  config: MetricConfig,
  maps: MapInfo[],
  file: string,
  objectName: string,
  prefix: string,
): UserMapMetricDefinition {
  const map = maps.find((m) => m.name === config.name);
  const fail = (key: string, problem: string): never => {
    throw new UserProbeError(file, `${config.key}${key}`, problem);
  };
  if (!map) {
    const names = maps.filter((m) => !m.name.includes('.')).map((m) => m.name);
    return fail(
      '.name',
      `${objectName} has no map ${config.name} (a metric reads the map of its name; maps: ${names.join(', ') || 'none'})`,
    );
  }
  if (map.valueSize !== 8) fail('.name', `map ${map.name} has ${map.valueSize}-byte values; a metric reads u64 values`);
  const keySize = config.labels.reduce((sum, label) => sum + label.size + label.padding, 0);
  const last = config.labels.at(-1);
  // ebpf_exporter's per-CPU rows: a last label `cpu` of 2 bytes is each value's CPU, after the key (or instead of a one-entry array's u32 0).
  const perCpu =
    PER_CPU_MAPS.includes(map.type) && last?.name === 'cpu' && last.size === 2 && config.kind === 'counter';
  const replaceKey = perCpu && config.labels.length === 1 && map.keySize === 4;
  const expected = perCpu && !replaceKey ? map.keySize + 2 : map.keySize;
  const labelless = config.labels.length === 0 && map.keySize === 4;
  if (keySize !== expected && !labelless && !replaceKey) {
    const cpu = perCpu ? ' plus the 2 bytes of the cpu label' : '';
    fail(
      '.labels',
      `the labels' sizes and paddings add up to ${keySize} bytes, but map ${map.name}'s key has ${map.keySize}${cpu}`,
    );
  }
  const labels = byteLabelsOf(config.labels, (key, problem) => fail(key, problem));
  const definition: UserMapMetricDefinition = {
    type: config.kind,
    name: prefix + config.name,
    help: config.help,
    map: map.name,
    keySize: replaceKey ? 2 : expected,
    labels,
  };
  if (perCpu) definition.perCpuRows = { replaceKey };
  if (config.kind === 'histogram') {
    const bucket = labels.pop()!;
    definition.histogram = bucketsOf(config, bucket.offset, bucket.size);
  }
  return definition;
}

function attachPointsOf(object: NativeBpfObject, file: string): AttachPoint[] {
  const points = object.programs().map((program): AttachPoint => {
    const variant = variantOfSection(program.name, program.section);
    if (!variant) {
      throw new UserProbeError(
        file,
        '',
        `program ${program.name}: section '${program.section}' is not one kernscope attaches (${SUPPORTED_SECTIONS})`,
      );
    }
    return { name: program.name, variants: [variant] };
  });
  if (points.length === 0) throw new UserProbeError(file, '', 'no programs');
  return points;
}

/** Probe NAME of directory `dir`, built from its two files. */
export function userProbe(dir: string, name: string, prefix = DEFAULT_METRIC_PREFIX): ProbeDefinition {
  const configFile = path.join(dir, `${name}.yaml`);
  const objectFile = path.resolve(dir, `${name}.bpf.o`);
  if (!PROBE_NAME.test(name)) {
    throw new UserProbeError(configFile, '', `'${name}' is not a probe name: use letters, digits, '_', '-' and '.'`);
  }
  if (BUILTIN_PROBES.some((probe) => probe.name === name)) {
    throw new UserProbeError(
      configFile,
      '',
      `${name} is a built-in probe's name; rename both files (e.g. ${name}_user)`,
    );
  }
  let text: string;
  try {
    checkNotWorldWritable(configFile);
    text = readYamlFile(configFile);
  } catch (error) {
    if (error instanceof UserProbeError) throw error;
    const reason =
      error instanceof YamlFileError
        ? error.problem
        : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    throw new UserProbeError(configFile, '', `cannot read: ${reason}`);
  }
  const config = parseUserProbeConfig(text, configFile);
  try {
    checkNotWorldWritable(objectFile);
    verifyUserObject(objectFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UserProbeError(
        configFile,
        '',
        `${path.basename(objectFile)} is missing beside it: build it with clang -target bpf -g -O2`,
      );
    }
    if (error instanceof UserProbeError) throw error;
    throw new UserProbeError(objectFile, '', (error as Error).message);
  }
  let object: NativeBpfObject;
  try {
    object = new addon.BpfObject(objectFile, name);
  } catch (error) {
    if (!(error instanceof BpfError)) throw error;
    throw new UserProbeError(
      objectFile,
      '',
      `cannot open: ${error.message.split('\n')[0]}; build it with clang -target bpf -g -O2 (BTF needed)`,
    );
  }
  try {
    const maps = object.maps();
    const metrics = config.metrics.map((metric) =>
      metricOf(metric, maps, configFile, path.basename(objectFile), prefix),
    );
    const traced = config.trace && traceOf(config.trace, maps, configFile, path.basename(objectFile));
    config.kaddrs.forEach((symbol, i) => {
      try {
        object.setConstant(`kaddr_${symbol}`, new Uint8Array(8)); // on this opened copy only: it proves the constant is there
      } catch {
        const declare = `declare const volatile u64 kaddr_${symbol} = 0; in ${name}.bpf.c`;
        throw new UserProbeError(
          configFile,
          `kaddrs[${i}]`,
          `${path.basename(objectFile)} has no u64 kaddr_${symbol}: ${declare}`,
        );
      }
    });
    return {
      name,
      summary: `user probe (${configFile}): ${metrics.map((m) => m.name).join(', ')}`,
      cost: 'user',
      object: objectFile,
      attach: attachPointsOf(object, objectFile),
      recordMetrics: [],
      mapMetrics: [],
      user: { config: configFile, kaddrs: config.kaddrs, metrics, trace: traced?.source },
      trace: traced?.trace,
    };
  } finally {
    object.close();
  }
}

/** Every probe of the directories, in directory then name order; a name found twice is refused. */
export function userProbesIn(dirs: readonly string[], prefix = DEFAULT_METRIC_PREFIX): ProbeDefinition[] {
  const probes: ProbeDefinition[] = [];
  for (const dir of dirs) {
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new UserProbeError(
        dir,
        '',
        `cannot read the probe directory (${reason}); give a directory of NAME.yaml and NAME.bpf.o`,
      );
    }
    for (const file of files.filter((f) => f.endsWith('.yaml')).sort()) {
      const probe = userProbe(dir, file.slice(0, -'.yaml'.length), prefix);
      const earlier = probes.find((p) => p.name === probe.name);
      if (earlier) {
        throw new UserProbeError(
          probe.user!.config,
          '',
          `probe ${probe.name} is also in ${earlier.user!.config}; rename one`,
        );
      }
      probes.push(probe);
    }
  }
  return probes;
}
