// Metrics the kernel aggregates into per-CPU maps (hot events: a ring record
// each would cost the traced workload more; see bench/README.md). Read at
// collection time: one pass over each map per collection, per-CPU values
// summed, keys decoded through the BTF layouts of the key and value structs.
// The series cap and idle TTL are the shared SeriesPolicy's; a series idle
// for the TTL is left out of the export (the kernel keeps counting; a series
// that moves again comes back with its running total).
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
import { ByteKeyTable, EMPTY, compileHashKey, moveEntries } from './ByteKeyTable';
import type { FamilySettings } from './FamilySettings';
import type { HistogramFamily, HistogramSample, Labels, MetricFamily, Sample, ScalarFamily } from './MetricFamily';
import { SeriesPolicy, overflowLabels } from './SeriesPolicy';

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

/** A map key's labels, kept while its cgroup's expansion stays the same object (Attribution caches them). */
interface KeyLabels {
  labels: Labels;
  /** The label values joined: keys whose labels coincide merge into one sample. */
  key: string;
  cgroupId?: bigint;
  expansion?: Labels;
}

/** The merge key of the __overflow__ sample: no label values join to it. */
const OVERFLOW_KEY = '\u0001';

/**
 * What both map families share: the keys a collection reads become series
 * ids (a ByteKeyTable of the key's words), held to the SeriesPolicy. A key
 * idle for the TTL is left out (the kernel keeps its total: it comes back
 * with it when it moves) and gives its place under the cap back; a key
 * deleted in the kernel gives its id back.
 */
class MapFamilyBase {
  private readonly keyFields: [string, Field, KeyLabel][];
  /** The key's cgroup id field and what it expands to, when attribution is on. */
  private readonly cgroup?: { field: Field; expand: (id: bigint) => Labels };
  protected readonly valueLayout: RecordLayout;
  readonly policy: SeriesPolicy;
  private table: ByteKeyTable;
  private readonly hashKey: (key: Int32Array) => number;
  /** The key being looked up, padded to whole words. */
  private readonly scratch: Int32Array;
  private keyLabels: KeyLabels[] = [];
  /** Per id: 1 while the key has a series of its own under the cap. */
  private admitted = new Uint8Array(64);
  private admittedCount = 0;
  /** Per id: 1 while the key is left out as idle. */
  private hidden = new Uint8Array(64);
  /** Built when first needed: asking the attribution for its label names may walk the cgroup tree. */
  private overflow?: Labels;

  constructor(
    object: NativeBpfObject,
    protected readonly reader: MapReader,
    definition: MapMetricDefinition,
    settings: FamilySettings,
  ) {
    const keyLayout = RecordLayout.fromObject(object, definition.key);
    this.valueLayout = RecordLayout.fromObject(object, definition.value);
    this.keyFields = Object.entries(definition.labels).map(([label, from]) => [
      label,
      keyLayout.field(from.field),
      from,
    ]);
    if (definition.cgroupField && settings.attribution) {
      this.cgroup = { field: keyLayout.field(definition.cgroupField), expand: settings.attribution };
    }
    this.policy = new SeriesPolicy(settings.limits);
    const words = Math.ceil(keyLayout.size / 4);
    this.table = new ByteKeyTable(words);
    this.hashKey = compileHashKey(words);
    this.scratch = new Int32Array(words);
  }

  /**
   * One collection's samples: keys with equal labels merged, idle keys left
   * out, keys beyond the cap merged into __overflow__ (what they added since
   * the last collection counted as overflow).
   */
  protected exported<T>(
    entries: MapEntry[],
    itemOf: (entry: MapEntry) => T,
    valueOf: (item: T) => number,
    merge: (into: T, from: T) => void,
  ): { labels: Labels; item: T }[] {
    const { policy } = this;
    const now = policy.now();
    const seen = new Uint8Array(this.table.size + entries.length);
    const merged = new Map<string, { labels: Labels; item: T }>();
    for (const entry of entries) {
      const id = this.idOf(entry.key);
      seen[id] = 1;
      const item = itemOf(entry);
      const increase = policy.observe(id, valueOf(item), now);
      if (policy.isIdle(id, now)) {
        if (this.hidden[id] === 0) {
          this.hidden[id] = 1;
          policy.expiredCount++;
          this.release(id);
        }
        continue;
      }
      this.hidden[id] = 0;
      if (this.admitted[id] === 0 && policy.hasRoom(this.admittedCount)) {
        this.admitted[id] = 1;
        this.admittedCount++;
      }
      let labels: Labels;
      let key = OVERFLOW_KEY;
      if (this.admitted[id] === 1) {
        ({ labels, key } = this.labelsOf(id, entry.key));
      } else {
        labels = this.overflowLabels();
        policy.overflowCount += increase;
      }
      const into = merged.get(key);
      if (into) merge(into.item, item);
      else merged.set(key, { labels, item });
    }
    this.forgetUnseen(seen);
    return [...merged.values()];
  }

  private overflowLabels(): Labels {
    this.overflow ??= overflowLabels([
      ...this.keyFields.map(([label]) => label),
      ...(this.cgroup ? Object.keys(this.cgroup.expand(0n)) : []),
    ]);
    return this.overflow;
  }

  private idOf(key: DataView): number {
    const scratch = this.scratch;
    new Uint8Array(scratch.buffer).set(new Uint8Array(key.buffer, key.byteOffset, key.byteLength));
    const hash = this.hashKey(scratch);
    const found = this.table.find(scratch, hash);
    if (found !== EMPTY) return found;
    const id = this.table.insert(scratch, hash);
    if (id >= this.admitted.length) {
      this.admitted = grown(this.admitted);
      this.hidden = grown(this.hidden);
    }
    return id;
  }

  private release(id: number): void {
    if (this.admitted[id] === 0) return;
    this.admitted[id] = 0;
    this.admittedCount--;
  }

  /** Keys the kernel deleted give their ids and places back. */
  private forgetUnseen(seen: Uint8Array): void {
    const gone: number[] = [];
    for (let id = 0; id < this.table.size; id++) if (seen[id] === 0) gone.push(id);
    if (gone.length === 0) return;
    for (const id of gone) this.release(id);
    const { table, moved } = this.table.without(gone);
    const admitted = new Uint8Array(this.admitted.length);
    const hidden = new Uint8Array(this.hidden.length);
    const keyLabels: KeyLabels[] = [];
    moveEntries(this.admitted, admitted, moved);
    moveEntries(this.hidden, hidden, moved);
    moveEntries(this.keyLabels, keyLabels, moved);
    this.policy.remap(moved, table.size);
    [this.table, this.admitted, this.hidden, this.keyLabels] = [table, admitted, hidden, keyLabels];
  }

  private labelsOf(id: number, key: DataView): KeyLabels {
    const cached = this.keyLabels[id];
    const cgroupId = this.cgroup && key.getBigUint64(this.cgroup.field.offset, true);
    const expansion = this.cgroup && cgroupId !== undefined ? this.cgroup.expand(cgroupId) : undefined;
    if (cached && cached.expansion === expansion) return cached;
    const labels: Labels = {};
    for (const [label, field, from] of this.keyFields) {
      const raw = readField(key, 0, field);
      labels[label] = from.format && typeof raw === 'number' ? from.format(raw) : String(raw);
    }
    if (expansion) Object.assign(labels, expansion);
    const fresh = { labels, key: Object.values(labels).join('\u0000'), cgroupId, expansion };
    this.keyLabels[id] = fresh;
    return fresh;
  }
}

function grown(flags: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const to = new Uint8Array(flags.length * 2);
  to.set(flags);
  return to;
}

class MapCounterFamily extends MapFamilyBase implements ScalarFamily {
  readonly type = 'counter';
  readonly name: string;
  readonly help: string;
  private readonly word: number;

  constructor(object: NativeBpfObject, reader: MapReader, definition: MapCounterDefinition, settings: FamilySettings) {
    super(object, reader, definition, settings);
    this.name = definition.name;
    this.help = definition.help;
    this.word = u64Word(this.valueLayout, definition.field, 'counter');
  }

  collect(): Sample[] {
    return this.exported(
      this.reader.entries(),
      (entry) => ({ value: entry.totals[this.word] }),
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
    settings: FamilySettings,
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
    return this.exported(
      this.reader.entries(),
      (entry) => this.sample(entry),
      (item) => item.count,
      (into, from) => {
        from.counts.forEach((c, i) => (into.counts[i] += c));
        into.sum += from.sum;
        into.count += from.count;
      },
    ).map(({ labels, item }) => ({ ...item, labels }));
  }

  private sample(entry: MapEntry): Omit<HistogramSample, 'labels'> {
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
      bounds: this.bounds,
      counts,
      sum: entry.totals[this.sumWord] * this.definition.scale,
      count,
    };
  }
}

/** The families of a probe's map-backed metrics. */
export function mapFamilies(
  object: NativeBpfObject,
  definitions: readonly MapMetricDefinition[],
  settings: FamilySettings,
  /** Histogram bounds by metric name, overriding the probe's defaults. */
  bounds: Record<string, number[]> = {},
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
    return new MapHistogramFamily(object, reader, definition, settings, bounds[definition.name] ?? definition.bounds);
  });
}
