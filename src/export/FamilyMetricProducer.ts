// The agent's metric families as OpenTelemetry metric data, read at export
// time: the OTLP export sees the same series and values as /metrics, with no
// OTel API call per record. Counters are monotonic sums and histograms keep
// their Prometheus bucket bounds, or, when exponential histograms are asked
// for, a family whose slots are exponential buckets sends those (the same
// buckets a native histogram has, the OTLP index being one less); both are
// cumulative from the agent's start, or delta (the change since the previous
// export) when the exporter prefers. Labels become attributes through
// `attributesOf` (attribution renames its labels to OpenTelemetry's k8s.* names).
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type {
  CollectionResult,
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  MetricDescriptor,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';

import type {
  ExponentialBuckets,
  HistogramFamily,
  HistogramSample,
  Labels,
  MetricFamily,
} from '../aggregate/MetricFamily';
import type { HistogramAggregation } from '../config/otlpSettings';
import { otlpName } from './otlpNames';

export const INSTRUMENTATION_SCOPE = 'kernscope';

function hrTimeOf(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** The previous export's cumulative values, by series: what a delta is taken from. */
class DeltaState {
  private previous = new Map<string, unknown>();
  private next = new Map<string, unknown>();

  /**
   * `now` less what series `key` had at the previous export, as `minus(now, before)` takes it; all of
   * `now` when the series is new, or when `minus` finds a counter went back (it restarted).
   */
  delta<T>(key: string, now: T, minus: (now: T, before: T) => T | undefined): T {
    const before = this.previous.get(key) as T | undefined;
    this.next.set(key, now);
    return (before === undefined ? undefined : minus(now, before)) ?? now;
  }

  /** Series not seen in this export are forgotten. */
  endExport(): void {
    this.previous = this.next;
    this.next = new Map();
  }
}

/** Each value less the one before it; undefined when one went back or the values are not the same ones. */
function minusValues(now: number[], before: number[]): number[] | undefined {
  if (now.length !== before.length || now.some((v, i) => v < before[i])) return undefined;
  return now.map((v, i) => v - before[i]);
}

type ExponentialSample = HistogramSample & { exponential: ExponentialBuckets };

const hasExponential = (s: HistogramSample): s is ExponentialSample => s.exponential !== undefined;

/**
 * A sample's exponential buckets as OTLP's: scale = schema, and OTLP bucket i, (base^i, base^(i+1)], is
 * Prometheus bucket i + 1, (base^i, base^(i+1)]. Observations are latencies: no negative buckets; the
 * zero bucket's threshold is 0 (the default the transformer leaves). The kernel keeps no min or max.
 */
function exponentialOf({ exponential, count, sum }: ExponentialSample): ExponentialHistogram {
  const { schema, zeroCount, offset, counts } = exponential;
  return {
    count,
    sum,
    scale: schema,
    zeroCount,
    positive: { offset: counts.length > 0 ? offset - 1 : 0, bucketCounts: [...counts] },
    negative: { offset: 0, bucketCounts: [] },
  };
}

/**
 * The change from `before`, bucket by bucket index (the range may have grown either way since), with the
 * empty buckets at both ends dropped; undefined when a count or the sum went back, or the scale changed.
 */
function minusExponential(now: ExponentialHistogram, before: ExponentialHistogram): ExponentialHistogram | undefined {
  const countAt = (h: ExponentialHistogram, index: number) => h.positive.bucketCounts[index - h.positive.offset] ?? 0;
  const [nowSum, beforeSum] = [now.sum ?? 0, before.sum ?? 0];
  const { offset, bucketCounts } = before.positive;
  if (
    now.scale !== before.scale ||
    now.count < before.count ||
    now.zeroCount < before.zeroCount ||
    nowSum < beforeSum ||
    bucketCounts.some((c, i) => countAt(now, offset + i) < c)
  ) {
    return undefined;
  }
  const counts = now.positive.bucketCounts.map((c, i) => c - countAt(before, now.positive.offset + i));
  let first = 0;
  let end = counts.length;
  while (first < end && counts[first] === 0) first++;
  while (end > first && counts[end - 1] === 0) end--;
  return {
    count: now.count - before.count,
    sum: nowSum - beforeSum,
    scale: now.scale,
    zeroCount: now.zeroCount - before.zeroCount,
    positive: { offset: first < end ? now.positive.offset + first : 0, bucketCounts: counts.slice(first, end) },
    negative: { offset: 0, bucketCounts: [] },
  };
}

/** A series' key in the delta state; `kind` keeps an explicit and an exponential view of it apart. */
const seriesKey = (kind: string, family: string, labels: Labels) =>
  `${kind}\u0000${family}\u0000${JSON.stringify(labels)}`;

/** The exporter's temporality; `exponential`: exponential histograms for the families that have them. */
export interface ProducerOptions {
  temporality: AggregationTemporality;
  histograms?: HistogramAggregation;
}

export class FamilyMetricProducer implements MetricProducer {
  private readonly delta?: DeltaState;
  /** Of sums and histograms (gauges are cumulative). */
  private readonly temporality: AggregationTemporality;
  private readonly exponential: boolean;
  private lastExport: HrTime;

  constructor(
    private readonly families: () => MetricFamily[],
    private readonly resource: Resource,
    { temporality, histograms = 'explicit' }: ProducerOptions,
    private readonly attributesOf: (labels: Labels) => Labels = (labels) => labels,
    private readonly startTime: HrTime = hrTimeOf(Date.now()),
  ) {
    if (temporality === AggregationTemporality.DELTA) this.delta = new DeltaState();
    this.temporality = this.delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
    this.exponential = histograms === 'exponential';
    this.lastExport = startTime;
  }

  async collect(): Promise<CollectionResult> {
    const families = this.families();
    for (const family of families) await family.prepare?.(yieldToLoop);
    const now = hrTimeOf(Date.now());
    const start = this.delta ? this.lastExport : this.startTime;
    const metrics = families.map((family) => this.metricData(family, start, now));
    this.delta?.endExport();
    this.lastExport = now;
    return {
      resourceMetrics: { resource: this.resource, scopeMetrics: [{ scope: { name: INSTRUMENTATION_SCOPE }, metrics }] },
      errors: [],
    };
  }

  private metricData(family: MetricFamily, startTime: HrTime, endTime: HrTime): MetricData {
    const { name, unit } = otlpName(family.name, family.type);
    const descriptor = { name, unit, description: family.help, valueType: ValueType.DOUBLE };
    const point = <T>(labels: Labels, value: T): DataPoint<T> => ({
      startTime,
      endTime,
      attributes: this.attributesOf(labels),
      value,
    });
    if (family.type === 'histogram') return this.histogramData(family, descriptor, point);
    if (family.type === 'gauge') {
      const dataPoints = family.collect().map((s) => point(s.labels, s.value));
      const aggregationTemporality = AggregationTemporality.CUMULATIVE;
      return { descriptor, aggregationTemporality, dataPointType: DataPointType.GAUGE, dataPoints };
    }
    const dataPoints = family.collect().map((s) => {
      const key = seriesKey('sum', family.name, s.labels);
      return point(s.labels, this.delta ? this.delta.delta(key, [s.value], minusValues)[0] : s.value);
    });
    return {
      descriptor,
      aggregationTemporality: this.temporality,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    };
  }

  /**
   * An exponential histogram when asked for and every sample has exponential buckets (the family's slots
   * are such buckets), else explicit buckets: a data point type is the whole metric's.
   */
  private histogramData(
    family: HistogramFamily,
    descriptor: MetricDescriptor,
    point: <T>(labels: Labels, value: T) => DataPoint<T>,
  ): MetricData {
    const aggregationTemporality = this.temporality;
    const samples = family.collect();
    if (this.exponential && samples.length > 0 && samples.every(hasExponential)) {
      const dataPoints = samples.map((s) => {
        const value = exponentialOf(s);
        const key = seriesKey('exponential', family.name, s.labels);
        return point(s.labels, this.delta ? this.delta.delta(key, value, minusExponential) : value);
      });
      return { descriptor, aggregationTemporality, dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM, dataPoints };
    }
    const dataPoints = samples.map((s) => point(s.labels, this.histogramValue(family.name, s)));
    return { descriptor, aggregationTemporality, dataPointType: DataPointType.HISTOGRAM, dataPoints };
  }

  private histogramValue(family: string, sample: HistogramSample): Histogram {
    let { counts, sum, count } = sample;
    if (this.delta) {
      const values = this.delta.delta(
        seriesKey('histogram', family, sample.labels),
        [...counts, sum, count],
        minusValues,
      );
      counts = values.slice(0, counts.length);
      [sum, count] = values.slice(counts.length);
    }
    return { buckets: { boundaries: [...sample.bounds], counts }, sum, count };
  }
}
