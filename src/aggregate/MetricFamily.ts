// What every exporter reads: a named family of series, materialised only when
// an exporter asks (scrape or export time), never per record.
import type { SeriesPolicy } from './SeriesPolicy';

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

/**
 * The same observations in exponential buckets (Prometheus native histogram
 * schema, OTLP exponential histogram scale): bucket i holds values in
 * (2^((i-1)/2^schema), 2^(i/2^schema)] of the family's unit, upper-inclusive.
 * Only where the kernel's slots are such buckets exactly (bpf/histogram.h).
 */
export interface ExponentialBuckets {
  /** 0..3: 2^schema buckets per power of two. */
  schema: number;
  /** Observations of exactly 0 (the zero bucket's threshold is 0). */
  zeroCount: number;
  /** Prometheus index of counts[0] (the OTLP index is one less); 0 when counts is empty. */
  offset: number;
  /** Counts (not cumulative) of consecutive buckets from `offset`; no leading or trailing zero. */
  counts: number[];
}

/** One histogram series: counts per bucket (not cumulative), the last one being +Inf. */
export interface HistogramSample {
  labels: Labels;
  /** Upper bounds (inclusive) of the finite buckets, ascending, in the family's unit. */
  bounds: readonly number[];
  /** bounds.length + 1 counts; the last is the +Inf bucket. */
  counts: number[];
  sum: number;
  count: number;
  /** Set when the family's slots are exponential buckets: what native and exponential exports send. */
  exponential?: ExponentialBuckets;
}

interface FamilyBase {
  /** Prometheus name, e.g. `kernscope_process_execs_total`. */
  readonly name: string;
  readonly help: string;
  /**
   * Does the costly part of the next collect() ahead, awaiting `pause` between
   * chunks of work, so that collect() itself is short and ring drains run
   * while a family of many series is prepared.
   */
  prepare?(pause: () => Promise<void>): Promise<void>;
  /** The series cap and TTL the family keeps to, for labelled families; its overflow is exported. */
  readonly policy?: SeriesPolicy;
}

export interface ScalarFamily extends FamilyBase {
  readonly type: 'counter' | 'gauge';
  collect(): Sample[];
}

export interface HistogramFamily extends FamilyBase {
  readonly type: 'histogram';
  collect(): HistogramSample[];
}

export type MetricFamily = ScalarFamily | HistogramFamily;

/** A family whose samples are computed on demand by a function. */
export class ComputedFamily implements ScalarFamily {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly compute: () => Sample[],
  ) {}

  collect(): Sample[] {
    return this.compute();
  }
}
