// A counter keyed by label values taken straight from record fields. The hot
// path (compiled into the drain loop, see counterSource) finds the series of
// a record's label words and bumps a Float64Array slot; strings are decoded
// once per new series, and only at collection time. The series cap, idle
// expiry and __overflow__ are the shared SeriesPolicy's; expiry runs at
// collection time, so the per-record path pays nothing for it.
import { ByteKeyTable, moveEntries } from './ByteKeyTable';
import type { CounterState } from './counterSource';
import { counterBlock } from './counterSource';
import type { LabelSource } from './labelCodec';
import { checkLabelSource, decodeKey, keyWords } from './labelCodec';
import type { Labels, Sample, ScalarFamily } from './MetricFamily';
import type { SeriesLimits } from './SeriesPolicy';
import { SeriesPolicy, idleIds, overflowLabels } from './SeriesPolicy';

/** Series labelled between two pauses of prepare(): a few milliseconds of work. */
const PREPARE_CHUNK = 1000;

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
  /** Replaced (compacted) when series expire; the compiled record path reads it per record. */
  table: ByteKeyTable;
  readonly scratch: Int32Array;
  values = new Float64Array(64);
  readonly policy: SeriesPolicy;
  private labelCache: SeriesLabels[] = [];
  /** Label sets built and tables compacted so far: each may change which series merge. */
  private changes = 0;
  /** `changes` when prepare() last linked every series to its canonical one; -1: never. */
  private linkedAt = -1;
  private collections = 0;
  private readonly expanders: ((value: bigint) => Labels)[];
  /** Records counted under __overflow__ and not yet expired. */
  private overflowValue = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labels: readonly LabelSource[],
    limits: SeriesLimits,
  ) {
    for (const source of labels) checkLabelSource(name, source);
    const words = keyWords(labels.map((source) => source.field));
    this.table = new ByteKeyTable(words);
    this.scratch = new Int32Array(words);
    this.policy = new SeriesPolicy(limits);
    this.expanders = labels.flatMap((source) => (source.expand ? [source.expand] : []));
  }

  /** Per-record statements for a loop where this counter is reachable as `counter` (see counterBlock). */
  blockSource(counter: string, label: string): string {
    return counterBlock(
      this.labels.map((source) => source.field),
      counter,
      label,
    );
  }

  get seriesCount(): number {
    return this.table.size;
  }

  addNew(hash: number): void {
    if (!this.policy.hasRoom(this.table.size)) {
      this.overflowValue++;
      this.policy.overflowCount++;
      return;
    }
    const id = this.table.insert(this.scratch, hash);
    if (id >= this.values.length) this.growValues();
    this.values[id]++;
  }

  /**
   * Builds the labels of new series (and of series whose expansion changed)
   * and finds which series merge, a chunk at a time, so collect() only sums.
   */
  async prepare(pause: () => Promise<void>): Promise<void> {
    this.expireIdle();
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
    this.expireIdle();
    // Expanded labels can make two keys read the same (two cgroups of one container): those merge.
    for (let id = 0; id < this.table.size; id++) this.labelsOf(id);
    const linked = this.expanders.length === 0 || this.linkedAt === this.changes;
    const samples = linked ? this.sumSeries() : this.mergeByKey();
    if (this.overflowValue > 0) {
      const names = this.labels.flatMap((source) => (source.expand ? Object.keys(source.expand(0n)) : [source.label]));
      samples.push({ labels: overflowLabels(names), value: this.overflowValue });
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
   * Drops the series the policy finds idle and frees their table slots (a
   * compacted table), so new label sets fit under the cap again. A series
   * that comes back starts from 0.
   */
  private expireIdle(): void {
    if (this.policy.ttlMs === 0) return;
    const now = this.policy.now();
    const idle = idleIds(this.policy, this.table, (id) => this.values[id], now);
    if (this.policy.overflowIdle(this.overflowValue, now)) {
      this.overflowValue = 0;
      this.policy.overflowIdle(0, now);
      this.policy.expiredCount++;
    }
    if (idle.length === 0) return;
    const { table, moved } = this.table.without(idle);
    const values = new Float64Array(this.values.length);
    const labelCache: SeriesLabels[] = [];
    moveEntries(this.values, values, moved);
    moveEntries(this.labelCache, labelCache, moved);
    this.policy.remap(moved, table.size);
    [this.table, this.values, this.labelCache] = [table, values, labelCache];
    this.changes++;
  }

  private labelsOf(id: number): SeriesLabels {
    const cached = this.labelCache[id];
    if (cached && this.sameExpansions(cached)) return cached;
    const labels: Labels = {};
    const raws: bigint[] = [];
    const expansions: Labels[] = [];
    decodeKey(this.table.key(id), this.labels).forEach((decoded, i) => {
      if ('label' in decoded) {
        labels[this.labels[i].label] = decoded.label;
        return;
      }
      const expansion = this.labels[i].expand!(decoded.raw);
      Object.assign(labels, expansion);
      raws.push(decoded.raw);
      expansions.push(expansion);
    });
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
