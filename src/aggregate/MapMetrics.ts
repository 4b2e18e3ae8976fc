// Metrics the kernel aggregates into per-CPU maps (hot events: a ring record
// each would cost the traced workload more; see bench/README.md). Read at
// collection time: one pass over each map per collection, per-CPU values
// summed, keys decoded through the BTF layouts of the key and value structs.
// Series unchanged for the TTL are left out of the export (the kernel keeps
// counting; a series that moves again comes back with its running total).
import type { Field } from '../decode/RecordLayout';
import { RecordLayout } from '../decode/RecordLayout';
import { readField } from '../decode/readField';
import type { NativeBpfObject } from '../native/addon';
import type {
  KeyLabel,
  MapCounterDefinition,
  MapHistogramDefinition,
  MapMetricDefinition,
} from '../probes/ProbeDefinition';
import type { HistogramFamily, HistogramSample, Labels, MetricFamily, Sample, ScalarFamily } from './MetricFamily';
import { OVERFLOW_LABEL_VALUE } from './RecordCounter';

/** One map read: each key's fields decoded, each value's u64 words summed over CPUs. */
interface MapEntry {
  key: DataView;
  /** The value struct as u64 words, summed over CPUs. */
  totals: Float64Array;
}

/** Reads a map at most once per event-loop turn, however many families use it. */
class MapReader {
  private cached: MapEntry[] | undefined;

  constructor(
    private readonly object: NativeBpfObject,
    private readonly map: string,
    private readonly valueSize: number,
  ) {}

  entries(): MapEntry[] {
    if (this.cached) return this.cached;
    // Values per key (`cpus`) and how far apart: the addon decides (native/map_io.cc).
    const { count, keys, values, valueStride: slot, cpus } = this.object.entries(this.map);
    const keySize = keys.byteLength / Math.max(count, 1);
    const words = this.valueSize / 8;
    const valueView = new DataView(values.buffer, values.byteOffset, values.byteLength);
    const entries: MapEntry[] = [];
    for (let i = 0; i < count; i++) {
      const totals = new Float64Array(words);
      const base = i * slot * cpus;
      for (let cpu = 0; cpu < cpus; cpu++) {
        for (let w = 0; w < words; w++) totals[w] += Number(valueView.getBigUint64(base + cpu * slot + w * 8, true));
      }
      entries.push({ key: new DataView(keys.buffer, keys.byteOffset + i * keySize, keySize), totals });
    }
    this.cached = entries;
    setImmediate(() => (this.cached = undefined));
    return entries;
  }
}

/** Label sets admitted under the series cap; the rest fold into __overflow__. */
class SeriesCap {
  private readonly admitted = new Set<string>();
  constructor(private readonly max: number) {}

  admit(key: string): boolean {
    if (this.admitted.has(key)) return true;
    if (this.admitted.size >= this.max) return false;
    this.admitted.add(key);
    return true;
  }

  /** An expired label set gives its place back. */
  release(key: string): void {
    this.admitted.delete(key);
  }
}

/** Per label set: the value the previous collection saw and when it last changed. */
interface SeriesState {
  value: number;
  changedAt: number;
  expired: boolean;
}

function u64Word(layout: RecordLayout, name: string, what: string): number {
  const field = layout.field(name);
  if (field.offset % 8 !== 0 || field.size % 8 !== 0) {
    throw new Error(`${layout.name}.${name} (${what}) must be u64s on an 8-byte boundary`);
  }
  return field.offset / 8;
}

/** Slot i of a log2 histogram holds values below 2^(i+1) kernel units. */
function slotBuckets(bounds: readonly number[], scale: number, slots: number): number[] {
  return bounds.map((bound) => {
    const exponent = Math.log2(bound / scale);
    const rounded = Math.round(exponent);
    if (Math.abs(exponent - rounded) > 1e-9 || rounded < 1 || rounded >= slots) {
      throw new Error(`histogram bound ${bound} is not a log2 slot edge (2^k * ${scale}, 1 <= k < ${slots})`);
    }
    return rounded - 1; // the last slot counted in this bucket
  });
}

class MapFamilyBase {
  protected readonly keyFields: [string, Field, KeyLabel][];
  /** The key's cgroup id field and what it expands to, when attribution is on. */
  private readonly cgroup?: { field: Field; expand: (id: bigint) => Labels };
  protected readonly valueLayout: RecordLayout;
  private readonly cap: SeriesCap;
  private readonly states = new Map<string, SeriesState>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  /** Label sets left out because they stayed unchanged for the TTL. */
  expiredCount = 0;

  constructor(
    object: NativeBpfObject,
    protected readonly reader: MapReader,
    definition: MapMetricDefinition,
    settings: MapMetricSettings,
  ) {
    const maxSeries = settings.maxSeriesPerMetric;
    this.ttlMs = settings.seriesTtlMs ?? 0;
    this.now = settings.now ?? Date.now;
    const keyLayout = RecordLayout.fromObject(object, definition.key);
    this.valueLayout = RecordLayout.fromObject(object, definition.value);
    this.keyFields = Object.entries(definition.labels).map(([label, from]) => [
      label,
      keyLayout.field(from.field),
      from,
    ]);
    this.cap = new SeriesCap(maxSeries);
    if (definition.cgroupField && settings.attribution) {
      this.cgroup = { field: keyLayout.field(definition.cgroupField), expand: settings.attribution };
    }
  }

  protected labelsOf(entry: MapEntry): Labels {
    const labels: Labels = {};
    for (const [label, field, from] of this.keyFields) {
      const raw = readField(entry.key, 0, field);
      labels[label] = from.format && typeof raw === 'number' ? from.format(raw) : String(raw);
    }
    if (this.cgroup) Object.assign(labels, this.cgroup.expand(entry.key.getBigUint64(this.cgroup.field.offset, true)));
    return labels;
  }

  /**
   * One collection's series: entries with equal labels summed, label sets
   * idle for the TTL left out (and their place under the cap given back),
   * label sets beyond the cap folded into __overflow__.
   */
  protected exported<T>(
    items: { labels: Labels; item: T }[],
    valueOf: (item: T) => number,
    merge: (into: T, from: T) => void,
  ): { labels: Labels; item: T }[] {
    const now = this.now();
    const seen = new Set<string>();
    const kept: { labels: Labels; item: T }[] = [];
    for (const entry of byLabels(items, merge)) {
      const key = JSON.stringify(entry.labels);
      seen.add(key);
      if (this.idle(key, valueOf(entry.item), now)) continue;
      kept.push(this.cap.admit(key) ? entry : { labels: this.overflowLabels(), item: entry.item });
    }
    // Keys gone from the map (deleted in the kernel) give their place back too.
    for (const key of this.states.keys()) {
      if (!seen.has(key)) {
        this.states.delete(key);
        this.cap.release(key);
      }
    }
    return byLabels(kept, merge);
  }

  /** Records what this collection saw of `key`; true once it held one value for the TTL. */
  private idle(key: string, value: number, now: number): boolean {
    const state = this.states.get(key);
    if (!state || state.value !== value) {
      this.states.set(key, { value, changedAt: now, expired: false });
      return false;
    }
    if (this.ttlMs === 0 || now - state.changedAt < this.ttlMs) return false;
    if (!state.expired) {
      state.expired = true;
      this.cap.release(key);
      this.expiredCount++;
    }
    return true;
  }

  private overflowLabels(): Labels {
    const names = [
      ...this.keyFields.map(([label]) => label),
      ...(this.cgroup ? Object.keys(this.cgroup.expand(0n)) : []),
    ];
    return Object.fromEntries(names.map((label) => [label, OVERFLOW_LABEL_VALUE]));
  }
}

/** Folds entries whose labels coincide (overflow, or formats mapping two keys to one name). */
function byLabels<T>(
  items: { labels: Labels; item: T }[],
  merge: (into: T, from: T) => void,
): { labels: Labels; item: T }[] {
  const merged = new Map<string, { labels: Labels; item: T }>();
  for (const entry of items) {
    const key = JSON.stringify(entry.labels);
    const seen = merged.get(key);
    if (seen) merge(seen.item, entry.item);
    else merged.set(key, entry);
  }
  return [...merged.values()];
}

class MapCounterFamily extends MapFamilyBase implements ScalarFamily {
  readonly type = 'counter';
  readonly name: string;
  readonly help: string;
  private readonly word: number;

  constructor(
    object: NativeBpfObject,
    reader: MapReader,
    definition: MapCounterDefinition,
    settings: MapMetricSettings,
  ) {
    super(object, reader, definition, settings);
    this.name = definition.name;
    this.help = definition.help;
    this.word = u64Word(this.valueLayout, definition.field, 'counter');
  }

  collect(): Sample[] {
    const items = this.reader
      .entries()
      .map((e) => ({ labels: this.labelsOf(e), item: { value: e.totals[this.word] } }));
    return this.exported(
      items,
      (item) => item.value,
      (into, from) => (into.value += from.value),
    ).map(({ labels, item }) => ({ labels, value: item.value }));
  }
}

class MapHistogramFamily extends MapFamilyBase implements HistogramFamily {
  readonly type = 'histogram';
  readonly name: string;
  readonly help: string;
  private readonly firstSlot: number;
  private readonly slots: number;
  private readonly sumWord: number;
  private readonly lastSlotOfBucket: number[];
  private readonly bounds: readonly number[];

  constructor(
    object: NativeBpfObject,
    reader: MapReader,
    private readonly definition: MapHistogramDefinition,
    settings: MapMetricSettings,
    bounds: readonly number[],
  ) {
    super(object, reader, definition, settings);
    this.name = definition.name;
    this.help = definition.help;
    this.firstSlot = u64Word(this.valueLayout, definition.slots, 'histogram slots');
    this.slots = this.valueLayout.field(definition.slots).size / 8;
    this.sumWord = u64Word(this.valueLayout, definition.sum, 'histogram sum');
    this.lastSlotOfBucket = slotBuckets(bounds, definition.scale, this.slots);
    this.bounds = bounds;
  }

  collect(): HistogramSample[] {
    const items = this.reader.entries().map((entry) => {
      const labels = this.labelsOf(entry);
      return { labels, item: this.sample(entry, labels) };
    });
    return this.exported(
      items,
      (item) => item.count,
      (into, from) => {
        from.counts.forEach((c, i) => (into.counts[i] += c));
        into.sum += from.sum;
        into.count += from.count;
      },
    ).map(({ labels, item }) => ({ ...item, labels }));
  }

  private sample(entry: MapEntry, labels: Labels): HistogramSample {
    const counts = new Array<number>(this.bounds.length + 1).fill(0);
    let bucket = 0;
    let count = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      while (bucket < this.lastSlotOfBucket.length && slot > this.lastSlotOfBucket[bucket]) bucket++;
      const n = entry.totals[this.firstSlot + slot];
      counts[bucket] += n;
      count += n;
    }
    return {
      labels,
      bounds: this.bounds,
      counts,
      sum: entry.totals[this.sumWord] * this.definition.scale,
      count,
    };
  }
}

export interface MapMetricSettings {
  maxSeriesPerMetric: number;
  /** Leave out series unchanged for this long (ms); 0 or absent: never. */
  seriesTtlMs?: number;
  /** Milliseconds clock (tests inject one). */
  now?: () => number;
  /** Histogram bounds by metric name, overriding the probe's defaults. */
  bounds?: Record<string, number[]>;
  /** cgroup id -> namespace, pod, container, for metrics with a `cgroupField`; absent: attribution off. */
  attribution?: (cgroupId: bigint) => Labels;
}

/** The families of a probe's map-backed metrics. */
export function mapFamilies(
  object: NativeBpfObject,
  definitions: readonly MapMetricDefinition[],
  settings: MapMetricSettings,
): MetricFamily[] {
  const readers = new Map<string, MapReader>();
  return definitions.map((definition) => {
    let reader = readers.get(definition.map);
    if (!reader) {
      reader = new MapReader(object, definition.map, RecordLayout.fromObject(object, definition.value).size);
      readers.set(definition.map, reader);
    }
    if (definition.type === 'counter') {
      return new MapCounterFamily(object, reader, definition, settings);
    }
    const bounds = settings.bounds?.[definition.name] ?? definition.bounds;
    return new MapHistogramFamily(object, reader, definition, settings, bounds);
  });
}
