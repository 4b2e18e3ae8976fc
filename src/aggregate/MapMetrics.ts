// Metrics the kernel aggregates into maps (hot events: a ring record each
// would cost the traced workload more; see bench/README.md). Read at
// collection time: one pass over each map per collection (MapReader), per-CPU
// values summed, each key a series (MapSeries) under the shared cap and TTL;
// a series idle for the TTL is left out of the export (the kernel keeps
// counting; a series that moves again comes back with its running total).
// Built-in probes decode keys and values through the BTF layouts of their
// structs; user probes' families (UserMapMetrics) reuse the two families here.
import type { Field } from '../decode/RecordLayout';
import { RecordLayout } from '../decode/RecordLayout';
import { nativeIndexOfSlot, schemaOfSlots, slotOfEdge } from '../decode/latencySlots';
import { readField } from '../decode/readField';
import type { NativeBpfObject } from '../native/addon';
import type { KeyLabel, MapMetricDefinition } from '../probes/ProbeDefinition';
import type { FamilySettings } from './FamilySettings';
import type { EntrySource } from './MapReader';
import { MapReaders } from './MapReader';
import type { KeyLabeller } from './MapSeries';
import { MapSeries } from './MapSeries';
import type {
  ExponentialBuckets,
  HistogramFamily,
  HistogramSample,
  Labels,
  MetricFamily,
  Sample,
  ScalarFamily,
} from './MetricFamily';

function u64Word(layout: RecordLayout, name: string, what: string): number {
  const field = layout.field(name);
  if (field.offset % 8 !== 0 || field.size % 8 !== 0) {
    throw new Error(`${layout.name}.${name} (${what}) must be u64s on an 8-byte boundary`);
  }
  return field.offset / 8;
}

/** Per bound (seconds): the last slot of a latency histogram (latencySlots) counted in its bucket. */
function slotBuckets(bounds: readonly number[], schema: number, slots: number): number[] {
  return bounds.map((bound) => {
    const slot = slotOfEdge(bound, schema, slots);
    if (slot === undefined) throw new Error(`histogram bound ${bound} is not a slot edge of schema ${schema}`);
    return slot;
  });
}

/** A built-in probe's key: struct fields from BTF, integers formatted where the definition says. */
class BtfKeyLabeller implements KeyLabeller {
  readonly keySize: number;
  readonly names: string[];
  readonly mayDrop = false;
  readonly cgroupOffset?: number;
  private readonly fields: [string, Field, KeyLabel][];

  constructor(object: NativeBpfObject, definition: MapMetricDefinition) {
    const layout = RecordLayout.fromObject(object, definition.key);
    this.keySize = layout.size;
    this.fields = Object.entries(definition.labels).map(([label, from]) => [label, layout.field(from.field), from]);
    this.names = this.fields.map(([label]) => label);
    if (definition.cgroupField) this.cgroupOffset = layout.field(definition.cgroupField).offset;
  }

  labels(key: DataView): Labels {
    const labels: Labels = {};
    for (const [label, field, from] of this.fields) {
      const raw = readField(key, 0, field);
      labels[label] = from.format && typeof raw === 'number' ? from.format(raw) : String(raw);
    }
    return labels;
  }
}

/** Where a histogram's counts and sum lie in a map entry's words, and which bucket each slot counts in. */
export interface HistogramShape {
  /** Word of the first slot; `slots` consecutive words. */
  firstSlot: number;
  slots: number;
  sumWord: number;
  /** Exported unit per kernel unit of the sum. */
  scale: number;
  /** The bounds exported, ascending; slots past the last bucket's count in +Inf. */
  bounds: readonly number[];
  /** Per bound: the last slot counted in its bucket. */
  lastSlotOfBucket: number[];
  /** Set when the slots are the kernel's latency slots (latencySlots): their native schema. */
  schema?: number;
}

/** A counter: one u64 word of each entry's value. */
export class MapCounterFamily implements ScalarFamily {
  readonly type = 'counter';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly source: EntrySource,
    private readonly series: MapSeries,
    private readonly word: number,
  ) {}

  get policy() {
    return this.series.policy;
  }

  collect(): Sample[] {
    return this.series
      .exported(
        this.source.entries(),
        (entry) => ({ value: entry.totals[this.word] }),
        (item) => item.value,
        (into, from) => (into.value += from.value),
      )
      .map(({ labels, item }) => ({ labels, value: item.value }));
  }
}

/** A histogram: slot counts and a sum in each entry's words (HistogramShape). */
export class MapHistogramFamily implements HistogramFamily {
  readonly type = 'histogram';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly source: EntrySource,
    private readonly series: MapSeries,
    private readonly shape: HistogramShape,
  ) {}

  get policy() {
    return this.series.policy;
  }

  collect(): HistogramSample[] {
    const { firstSlot, slots, sumWord } = this.shape;
    return this.series
      .exported(
        this.source.entries(),
        (entry) => ({ slots: entry.totals.slice(firstSlot, firstSlot + slots), sum: entry.totals[sumWord] }),
        (item) => item.slots.reduce((a, b) => a + b, 0),
        (into, from) => {
          from.slots.forEach((n, i) => (into.slots[i] += n));
          into.sum += from.sum;
        },
      )
      .map(({ labels, item }) => this.sample(labels, item.slots, item.sum));
  }

  private sample(labels: Labels, slotCounts: Float64Array, sum: number): HistogramSample {
    const { scale, bounds, lastSlotOfBucket, schema } = this.shape;
    const counts = new Array<number>(bounds.length + 1).fill(0);
    let bucket = 0;
    let count = 0;
    slotCounts.forEach((n, slot) => {
      while (bucket < lastSlotOfBucket.length && slot > lastSlotOfBucket[bucket]) bucket++;
      counts[bucket] += n;
      count += n;
    });
    const sample: HistogramSample = { labels, bounds, counts, sum: sum * scale, count };
    if (schema !== undefined) sample.exponential = exponentialBuckets(slotCounts, schema);
    return sample;
  }
}

/** A latency histogram's slots (latencySlots) as native buckets: zeros, then the filled range of slots. */
function exponentialBuckets(slotCounts: Float64Array, schema: number): ExponentialBuckets {
  let first = 1;
  let last = slotCounts.length - 1;
  while (first <= last && slotCounts[first] === 0) first++;
  while (last >= first && slotCounts[last] === 0) last--;
  return {
    schema,
    zeroCount: slotCounts[0],
    offset: first <= last ? nativeIndexOfSlot(first, schema) : 0,
    counts: Array.from(slotCounts.subarray(first, last + 1)),
  };
}

/** The families of a built-in probe's map-backed metrics. */
export function mapFamilies(
  object: NativeBpfObject,
  definitions: readonly MapMetricDefinition[],
  settings: FamilySettings,
  /** Histogram bounds by metric name, overriding the probe's defaults. */
  bounds: Record<string, number[]> = {},
): MetricFamily[] {
  const readers = new MapReaders(object);
  return definitions.map((definition) => {
    const valueLayout = RecordLayout.fromObject(object, definition.value);
    const reader = readers.of(definition.map, valueLayout.size);
    const series = new MapSeries(new BtfKeyLabeller(object, definition), settings);
    if (definition.type === 'counter') {
      const word = u64Word(valueLayout, definition.field, 'counter');
      return new MapCounterFamily(definition.name, definition.help, reader, series, word);
    }
    const slots = valueLayout.field(definition.slots).size / 8;
    const schema = schemaOfSlots(slots);
    const chosen = bounds[definition.name] ?? definition.bounds;
    return new MapHistogramFamily(definition.name, definition.help, reader, series, {
      firstSlot: u64Word(valueLayout, definition.slots, 'histogram slots'),
      slots,
      sumWord: u64Word(valueLayout, definition.sum, 'histogram sum'),
      scale: definition.scale,
      bounds: chosen,
      lastSlotOfBucket: slotBuckets(chosen, schema, slots),
      schema,
    });
  });
}
