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
  private labelCache: Labels[] = [];
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

  collect(): Sample[] {
    if (this.ttlMs > 0) this.expireIdle(this.now());
    const samples: Sample[] = [];
    for (let id = 0; id < this.table.size; id++) {
      samples.push({ labels: this.labelsOf(id), value: this.values[id] });
    }
    if (this.overflowValue > 0) {
      const labels: Labels = {};
      for (const source of this.labels) {
        const names = source.expand ? Object.keys(source.expand(0n)) : [source.label];
        for (const name of names) labels[name] = OVERFLOW_LABEL_VALUE;
      }
      samples.push({ labels, value: this.overflowValue });
    }
    return this.expanding ? mergeEqualLabels(samples) : samples;
  }

  /** Some label is expanded at collection: two keys may then read the same (two cgroups of one container). */
  private get expanding(): boolean {
    return this.labels.some((source) => source.expand);
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
    const labelCache: Labels[] = [];
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
  }

  private labelsOf(id: number): Labels {
    let labels = this.labelCache[id];
    if (labels) return labels;
    const expanding = this.expanding;
    const key = this.table.key(id);
    const bytes = new DataView(key.buffer, key.byteOffset, key.byteLength);
    labels = {};
    let offset = 0;
    for (const source of this.labels) {
      const { field } = source;
      const words = labelWords(field);
      if (field.kind === 'string') {
        labels[source.label] = readCString(bytes, offset, field.size);
      } else if (field.kind === 'u64') {
        const raw = bytes.getBigUint64(offset, true);
        Object.assign(labels, source.expand ? source.expand(raw) : { [source.label]: String(raw) });
      } else {
        const raw = field.kind.startsWith('s') ? bytes.getInt32(offset, true) : bytes.getUint32(offset, true);
        labels[source.label] = source.format ? source.format(raw) : String(raw);
      }
      offset += words * 4;
    }
    if (!expanding) this.labelCache[id] = labels;
    return labels;
  }

  private growValues(): void {
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.values = values;
  }
}

function mergeEqualLabels(samples: Sample[]): Sample[] {
  // Every sample of a counter has the same label names in the same order: the values are the key.
  const merged = new Map<string, Sample>();
  for (const sample of samples) {
    const key = Object.values(sample.labels).join('\u0000');
    const seen = merged.get(key);
    if (seen) seen.value += sample.value;
    else merged.set(key, sample);
  }
  return merged.size === samples.length ? samples : [...merged.values()];
}
