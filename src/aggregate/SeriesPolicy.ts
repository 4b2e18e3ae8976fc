// The one series policy of every labelled family, whether user space counts
// it (RecordCounter) or the kernel does (MapMetrics): at most `maxSeries`
// series, later label sets folded into one __overflow__ series and counted,
// and series whose value held still for the TTL expired at collection. Series
// are dense ids (ByteKeyTable); per id the policy keeps the value the last
// collection saw and when it last changed, in typed arrays, so collections
// build no objects per series.
import type { ByteKeyTable } from './ByteKeyTable';
import { moveEntries } from './ByteKeyTable';

export const OVERFLOW_LABEL_VALUE = '__overflow__';

export interface SeriesLimits {
  maxSeries: number;
  /** Expire series unchanged for this long (ms); 0 keeps every series for the life of the agent. */
  ttlMs: number;
  /** Milliseconds clock (tests inject one). */
  now?: () => number;
}

/** The overflow series' labels: every label of the family, valued __overflow__. */
export function overflowLabels(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, OVERFLOW_LABEL_VALUE]));
}

export class SeriesPolicy {
  /**
   * What was folded into __overflow__: records for a RecordCounter; for a map
   * family, what the kernel added to its over-cap series (events for a
   * counter of events, observations for a histogram).
   */
  overflowCount = 0;
  /** Series expired because they stayed unchanged for the TTL. */
  expiredCount = 0;
  readonly maxSeries: number;
  readonly ttlMs: number;
  readonly now: () => number;
  /** Per id: its value at the previous collection and when it last changed (ms). */
  private previous = new Float64Array(64);
  private changedAt = new Float64Array(64);
  /** Ids below this had been seen by a collection. */
  private observed = 0;
  private overflowPrevious = 0;
  private overflowChangedAt = 0;

  constructor(limits: SeriesLimits) {
    this.maxSeries = limits.maxSeries;
    this.ttlMs = limits.ttlMs;
    this.now = limits.now ?? Date.now;
  }

  /** Whether a new series may join `live` others, or must go to __overflow__. */
  hasRoom(live: number): boolean {
    return live < this.maxSeries;
  }

  /**
   * A collection saw series `id` at `value`: returns how much it grew since
   * the previous collection (all of it for a new series).
   */
  observe(id: number, value: number, now: number): number {
    if (id >= this.previous.length) this.grow(id + 1);
    const fresh = id >= this.observed;
    if (fresh) this.observed = id + 1;
    const before = fresh ? 0 : this.previous[id];
    if (fresh || value !== before) {
      this.previous[id] = value;
      this.changedAt[id] = now;
    }
    return value - before;
  }

  /** Whether series `id` has held its value for the TTL (as of the last observe). */
  isIdle(id: number, now: number): boolean {
    return this.ttlMs > 0 && id < this.observed && now - this.changedAt[id] >= this.ttlMs;
  }

  /** Whether an __overflow__ series kept by user space, now at `value`, has held it for the TTL. */
  overflowIdle(value: number, now: number): boolean {
    if (value !== this.overflowPrevious) {
      this.overflowPrevious = value;
      this.overflowChangedAt = now;
      return false;
    }
    return this.ttlMs > 0 && value > 0 && now - this.overflowChangedAt >= this.ttlMs;
  }

  /**
   * Follows a compaction of the table (ByteKeyTable.without) to `size` ids.
   * Compactions follow a collection that observed every id.
   */
  remap(moved: Int32Array, size: number): void {
    const previous = new Float64Array(this.previous.length);
    const changedAt = new Float64Array(this.changedAt.length);
    moveEntries(this.previous, previous, moved);
    moveEntries(this.changedAt, changedAt, moved);
    [this.previous, this.changedAt, this.observed] = [previous, changedAt, size];
  }

  private grow(size: number): void {
    let length = this.previous.length;
    while (length < size) length *= 2;
    const previous = new Float64Array(length);
    const changedAt = new Float64Array(length);
    previous.set(this.previous);
    changedAt.set(this.changedAt);
    this.previous = previous;
    this.changedAt = changedAt;
  }
}

/** Ids of `table` whose series the policy finds idle at `now`, ascending; each counts as expired. */
export function idleIds(
  policy: SeriesPolicy,
  table: ByteKeyTable,
  valueOf: (id: number) => number,
  now: number,
): number[] {
  const idle: number[] = [];
  for (let id = 0; id < table.size; id++) {
    policy.observe(id, valueOf(id), now);
    if (policy.isIdle(id, now)) idle.push(id);
  }
  policy.expiredCount += idle.length;
  return idle;
}
