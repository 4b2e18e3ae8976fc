// The series of a map family: the keys a collection reads become series ids
// (a ByteKeyTable of the key's words), held to the SeriesPolicy. A key idle
// for the TTL is left out (the kernel keeps its total: it comes back with it
// when it moves) and gives its place under the cap back; a key deleted in the
// kernel gives its id back. How a key becomes labels is the KeyLabeller's:
// struct fields from BTF (built-in probes) or bytes through decoders (user
// probes).
import { ByteKeyTable, EMPTY, compileHashKey, moveEntries } from './ByteKeyTable';
import type { FamilySettings } from './FamilySettings';
import type { Labels } from './MetricFamily';
import type { MapEntry } from './MapReader';
import { SeriesPolicy, overflowLabels } from './SeriesPolicy';

export interface KeyLabeller {
  readonly keySize: number;
  /** The names of the labels `labels()` gives (the overflow series has them all). */
  readonly names: readonly string[];
  /** The key's labels; undefined leaves the key's samples out (a decoder that drops it). */
  labels(key: DataView): Labels | undefined;
  /** Whether the labels are final: false while a lookup has not found its value yet (decoded again next time). */
  settled?(labels: Labels): boolean;
  /** Whether `labels()` may drop a key: then every key is labelled, not only those under the cap. */
  readonly mayDrop: boolean;
  /** Byte offset of a u64 cgroup id in the key, labelled `namespace`, `pod`, `container` when attribution is on. */
  readonly cgroupOffset?: number;
}

/** A key's labels, kept while its cgroup's expansion stays the same object (Attribution caches them). */
interface KeyLabels {
  /** Undefined: the labeller drops this key. */
  labels?: Labels;
  /** The label values joined: keys whose labels coincide merge into one sample. */
  key: string;
  expansion?: Labels;
}

/** The merge key of the __overflow__ sample: no label values join to it. */
const OVERFLOW_KEY = '\u0001';

export class MapSeries {
  readonly policy: SeriesPolicy;
  private readonly expand?: (id: bigint) => Labels;
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
    private readonly labeller: KeyLabeller,
    settings: FamilySettings,
  ) {
    if (labeller.cgroupOffset !== undefined) this.expand = settings.attribution;
    this.policy = new SeriesPolicy(settings.limits);
    const words = Math.ceil(labeller.keySize / 4);
    this.table = new ByteKeyTable(words);
    this.hashKey = compileHashKey(words);
    this.scratch = new Int32Array(words);
  }

  /**
   * One collection's samples: keys with equal labels merged, idle keys left
   * out, keys beyond the cap merged into __overflow__ (what they added since
   * the last collection counted as overflow).
   */
  exported<T>(
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
      const own = this.labeller.mayDrop ? this.labelsOf(id, entry.key) : undefined;
      if (own && !own.labels) continue;
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
        const keyLabels = own ?? this.labelsOf(id, entry.key);
        labels = keyLabels.labels!;
        key = keyLabels.key;
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
    this.overflow ??= overflowLabels([...this.labeller.names, ...(this.expand ? Object.keys(this.expand(0n)) : [])]);
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
    const offset = this.labeller.cgroupOffset;
    const expansion = this.expand && offset !== undefined ? this.expand(key.getBigUint64(offset, true)) : undefined;
    if (cached && cached.expansion === expansion) return cached;
    const own = this.labeller.labels(key);
    const labels = own && expansion ? { ...own, ...expansion } : own;
    const fresh = { labels, key: labels ? Object.values(labels).join('\u0000') : '', expansion };
    if (!labels || (this.labeller.settled?.(labels) ?? true)) this.keyLabels[id] = fresh;
    return fresh;
  }
}

function grown(flags: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const to = new Uint8Array(flags.length * 2);
  to.set(flags);
  return to;
}
