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
import { readField } from '../decode/readField';
import type { NativeBpfObject } from '../native/addon';
import type { KeyLabel, MapMetricDefinition } from '../probes/ProbeDefinition';
import type { FamilySettings } from './FamilySettings';
import type { EntrySource, MapEntry } from './MapReader';
import { MapReaders } from './MapReader';
import type { KeyLabeller } from './MapSeries';
import { MapSeries } from './MapSeries';
import type { HistogramFamily, HistogramSample, Labels, MetricFamily, Sample, ScalarFamily } from './MetricFamily';

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
    return this.series
      .exported(
        this.source.entries(),
        (entry) => this.sample(entry),
        (item) => item.count,
        (into, from) => {
          from.counts.forEach((c, i) => (into.counts[i] += c));
          into.sum += from.sum;
          into.count += from.count;
        },
      )
      .map(({ labels, item }) => ({ ...item, labels }));
  }

  private sample(entry: MapEntry): Omit<HistogramSample, 'labels'> {
    const { firstSlot, slots, sumWord, scale, bounds, lastSlotOfBucket } = this.shape;
    const counts = new Array<number>(bounds.length + 1).fill(0);
    let bucket = 0;
    let count = 0;
    for (let slot = 0; slot < slots; slot++) {
      while (bucket < lastSlotOfBucket.length && slot > lastSlotOfBucket[bucket]) bucket++;
      const n = entry.totals[firstSlot + slot];
      counts[bucket] += n;
      count += n;
    }
    return { bounds, counts, sum: entry.totals[sumWord] * scale, count };
  }
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
    const chosen = bounds[definition.name] ?? definition.bounds;
    return new MapHistogramFamily(definition.name, definition.help, reader, series, {
      firstSlot: u64Word(valueLayout, definition.slots, 'histogram slots'),
      slots,
      sumWord: u64Word(valueLayout, definition.sum, 'histogram sum'),
      scale: definition.scale,
      bounds: chosen,
      lastSlotOfBucket: slotBuckets(chosen, definition.scale, slots),
    });
  });
}
