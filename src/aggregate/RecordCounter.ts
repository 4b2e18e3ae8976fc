// A counter keyed by label values taken straight from record fields. The hot
// path (compiled per label plan, see compileCounterAdd) finds the series of a
// record's label words and bumps a Float64Array slot; strings are decoded once
// per new series, and only at collection time. Idle series expire at
// collection time (a pass comparing values with the previous collection), so
// the per-record path pays nothing for expiry.
import { readCString } from '../decode/readField';
import type { Field } from '../decode/RecordLayout';
import { ByteKeyTable } from './ByteKeyTable';
import type { AddFunction, CounterState } from './compileCounterAdd';
import { LABEL_KINDS, compileCounterAdd, counterBlock, labelWords } from './compileCounterAdd';
import type { Labels, Sample, ScalarFamily } from './MetricFamily';

export const OVERFLOW_LABEL_VALUE = '__overflow__';

/** Series labelled between two pauses of prepare(): a few milliseconds of work. */
const PREPARE_CHUNK = 1000;

/** Idle-series expiry: a series whose value did not change for `ttlMs` is dropped at collection. */
export interface SeriesExpiry {
  /** 0 keeps every series for the life of the agent. */
  ttlMs: number;
  /** Milliseconds clock (tests inject one). */
  now?: () => number;
}

export interface LabelSource {
  label: string;
  field: Field;
  /** Turns an integer field into the label value (default: decimal). */
  format?: (value: number) => string;
  /**
   * Turns a u64 field into several labels, in place of `label` (a cgroup id
   * into namespace, pod and container). Asked at every collection, since
   * what it knows can change (a pod seen after its first records).
   */
  expand?: (value: bigint) => Labels;
}

/**
 * A series' labels as the last collection built them. With expanded labels
 * they stay valid while every expansion returns the same object (Attribution
 * caches its answers per cgroup), so a scrape builds no label objects or
 * strings for series it has seen: at 10k attributed series, building them
 * every scrape was most of its time (bench/README.md, scrape table).
 */
interface SeriesLabels {
  labels: Labels;
  /** The label values joined: equal keys merge into one sample. */
  key: string;
  /** The raw u64 of each expanded source, and what its expansion returned. */
  raws: bigint[];
  expansions: Labels[];
  /** The first series with this key when prepare() last linked them: its sample takes this one's value. */
  canonical?: SeriesLabels;
  /** The sample of the collection numbered `collection`, for merging into. */
  sample?: Sample;
  collection: number;
}

export class RecordCounter implements ScalarFamily, CounterState {
  readonly type = 'counter';
  /** Replaced (compacted) when series expire; the compiled add reads it per record. */
  table: ByteKeyTable;
  readonly scratch: Int32Array;
  values = new Float64Array(64);
  /**
   * Adds `amount` to the series named by this record's label fields. `words`
   * views the same memory as `view`; records start 8-byte aligned.
   */
  readonly add: AddFunction;
  private labelCache: SeriesLabels[] = [];
  /** Label sets built and tables compacted so far: each may change which series merge. */
  private changes = 0;
  /** `changes` when prepare() last linked every series to its canonical one; -1: never. */
  private linkedAt = -1;
  private collections = 0;
  private readonly expanders: ((value: bigint) => Labels)[];
  private overflowValue = 0;
  /** Records whose new label set did not fit under the series cap. */
  overflowCount = 0;
  /** Series dropped because they stayed unchanged for the TTL. */
  expiredCount = 0;
  private readonly ttlMs: number;
  private readonly now: () => number;
  /** Per series: its value at the previous collection and when it last changed (ms). */
  private previous = new Float64Array(0);
  private changedAt = new Float64Array(0);
  /** Ids below this had been seen by a collection. */
  private observed = 0;
  private overflowPrevious = 0;
  private overflowChangedAt = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labels: readonly LabelSource[],
    private readonly maxSeries: number,
    expiry: SeriesExpiry = { ttlMs: 0 },
  ) {
    this.ttlMs = expiry.ttlMs;
    this.now = expiry.now ?? Date.now;
    for (const { label, field } of labels) {
      if (!LABEL_KINDS.has(field.kind)) {
        throw new Error(
          `${name}: label '${label}' reads field '${field.name}' of kind ${field.kind}; labels take strings, integers up to 32 bits, or u64s`,
        );
      }
      // Strings and u64s are loaded as aligned 32-bit words.
      if ((field.kind === 'string' || field.kind === 'u64') && (field.size % 4 !== 0 || field.offset % 4 !== 0)) {
        throw new Error(
          `${name}: label '${label}' reads ${field.kind} (${field.size} bytes) at offset ${field.offset}; string and u64 labels need size and offset multiples of 4`,
        );
      }
    }
    const words = labels.reduce((sum, source) => sum + labelWords(source.field), 0);
    this.table = new ByteKeyTable(Math.max(words, 1));
    this.scratch = new Int32Array(Math.max(words, 1));
    this.add = compileCounterAdd(this.fields(), this);
    this.expanders = labels.flatMap((source) => (source.expand ? [source.expand] : []));
  }

  /** Per-record statements for a loop where this counter is reachable as `counter` (see counterBlock). */
  blockSource(counter: string, label: string): string {
    return counterBlock(this.fields(), counter, label, '1');
  }

  private fields(): Field[] {
    return this.labels.map((source) => source.field);
  }

  get seriesCount(): number {
    return this.table.size;
  }

  addNew(hash: number, amount: number): void {
    if (this.table.size >= this.maxSeries) {
      this.overflowValue += amount;
      this.overflowCount++;
      return;
    }
    const id = this.table.insert(this.scratch, hash);
    if (id >= this.values.length) this.growValues();
    this.values[id] += amount;
  }

  /**
   * Builds the labels of new series (and of series whose expansion changed)
   * and finds which series merge, a chunk at a time, so collect() only sums.
   */
  async prepare(pause: () => Promise<void>): Promise<void> {
    if (this.ttlMs > 0) this.expireIdle(this.now());
    for (let id = 0; id < this.table.size; id++) {
      this.labelsOf(id);
      if (id % PREPARE_CHUNK === PREPARE_CHUNK - 1) await pause();
    }
    if (this.expanders.length === 0 || this.linkedAt === this.changes) return;
    const at = this.changes;
    const first = new Map<string, SeriesLabels>();
    for (let id = 0; id < this.table.size; id++) {
      const series = this.labelsOf(id);
      series.canonical = first.get(series.key);
      if (!series.canonical) first.set(series.key, series);
      if (id % PREPARE_CHUNK === PREPARE_CHUNK - 1) await pause();
    }
    if (this.changes === at) this.linkedAt = at; // else something changed meanwhile: the next prepare links again
  }

  collect(): Sample[] {
    if (this.ttlMs > 0) this.expireIdle(this.now());
    // Expanded labels can make two keys read the same (two cgroups of one container): those merge.
    for (let id = 0; id < this.table.size; id++) this.labelsOf(id);
    const linked = this.expanders.length === 0 || this.linkedAt === this.changes;
    const samples = linked ? this.sumSeries() : this.mergeByKey();
    if (this.overflowValue > 0) {
      const labels: Labels = {};
      for (const source of this.labels) {
        const names = source.expand ? Object.keys(source.expand(0n)) : [source.label];
        for (const name of names) labels[name] = OVERFLOW_LABEL_VALUE;
      }
      samples.push({ labels, value: this.overflowValue });
    }
    return samples;
  }

  /** A sample per series, each merged into its canonical series (found by prepare). */
  private sumSeries(): Sample[] {
    const collection = ++this.collections;
    const samples: Sample[] = [];
    for (let id = 0; id < this.table.size; id++) {
      const series = this.labelCache[id];
      const target = series.canonical ?? series;
      if (target.collection === collection && target.sample) {
        target.sample.value += this.values[id];
      } else {
        target.sample = { labels: target.labels, value: this.values[id] };
        target.collection = collection;
        samples.push(target.sample);
      }
    }
    return samples;
  }

  /** Merges series of equal labels by their key: for series prepare() has not seen. */
  private mergeByKey(): Sample[] {
    const byKey = new Map<string, Sample>();
    for (let id = 0; id < this.table.size; id++) {
      const series = this.labelCache[id];
      const seen = byKey.get(series.key);
      if (seen) seen.value += this.values[id];
      else byKey.set(series.key, { labels: series.labels, value: this.values[id] });
    }
    return [...byKey.values()];
  }

  /**
   * Drops the series whose value is the one the previous collections saw for
   * at least the TTL, and frees their table slots (a compacted table), so new
   * label sets fit under the cap again. A series that comes back starts from 0.
   */
  private expireIdle(now: number): void {
    const size = this.table.size;
    if (this.previous.length < size) {
      const grow = (from: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
        const to = new Float64Array(this.values.length);
        to.set(from);
        return to;
      };
      this.previous = grow(this.previous);
      this.changedAt = grow(this.changedAt);
    }
    const expired: number[] = [];
    for (let id = 0; id < size; id++) {
      const value = this.values[id];
      if (id >= this.observed || value !== this.previous[id]) {
        this.previous[id] = value;
        this.changedAt[id] = now;
      } else if (now - this.changedAt[id] >= this.ttlMs) {
        expired.push(id);
      }
    }
    this.observed = size;
    if (this.overflowValue !== this.overflowPrevious) {
      this.overflowPrevious = this.overflowValue;
      this.overflowChangedAt = now;
    } else if (this.overflowValue > 0 && now - this.overflowChangedAt >= this.ttlMs) {
      this.overflowValue = this.overflowPrevious = 0;
      this.expiredCount++;
    }
    if (expired.length > 0) this.compact(expired);
  }

  /** Rebuilds the table without the `expired` ids (ascending); live series keep their order. */
  private compact(expired: readonly number[]): void {
    const old = this.table;
    const live = old.size - expired.length;
    let slots = 64;
    while (slots < live * 2) slots *= 2;
    const table = new ByteKeyTable(old.words, slots);
    const values = new Float64Array(this.values.length);
    const previous = new Float64Array(this.values.length);
    const changedAt = new Float64Array(this.values.length);
    const labelCache: SeriesLabels[] = [];
    let next = 0;
    for (let id = 0; id < old.size; id++) {
      if (id === expired[next]) {
        next++;
        continue;
      }
      const fresh = table.insert(old.key(id), old.hashes[id]);
      values[fresh] = this.values[id];
      previous[fresh] = this.previous[id];
      changedAt[fresh] = this.changedAt[id];
      if (this.labelCache[id]) labelCache[fresh] = this.labelCache[id];
    }
    this.table = table;
    this.values = values;
    this.previous = previous;
    this.changedAt = changedAt;
    this.labelCache = labelCache;
    this.observed = table.size;
    this.expiredCount += expired.length;
    this.changes++;
  }

  private labelsOf(id: number): SeriesLabels {
    const cached = this.labelCache[id];
    if (cached && this.sameExpansions(cached)) return cached;
    const key = this.table.key(id);
    const bytes = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const labels: Labels = {};
    const raws: bigint[] = [];
    const expansions: Labels[] = [];
    let offset = 0;
    for (const source of this.labels) {
      const { field } = source;
      const words = labelWords(field);
      if (field.kind === 'string') {
        labels[source.label] = readCString(bytes, offset, field.size);
      } else if (field.kind === 'u64') {
        const raw = bytes.getBigUint64(offset, true);
        if (source.expand) {
          const expansion = source.expand(raw);
          Object.assign(labels, expansion);
          raws.push(raw);
          expansions.push(expansion);
        } else {
          labels[source.label] = String(raw);
        }
      } else {
        const raw = field.kind.startsWith('s') ? bytes.getInt32(offset, true) : bytes.getUint32(offset, true);
        labels[source.label] = source.format ? source.format(raw) : String(raw);
      }
      offset += words * 4;
    }
    const series = { labels, key: Object.values(labels).join('\u0000'), raws, expansions, collection: 0 };
    this.labelCache[id] = series;
    this.changes++;
    return series;
  }

  private sameExpansions(series: SeriesLabels): boolean {
    for (let i = 0; i < series.raws.length; i++) {
      if (this.expanders[i](series.raws[i]) !== series.expansions[i]) return false;
    }
    return true;
  }

  private growValues(): void {
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.values = values;
  }
}
