// The agent's metric families as OpenTelemetry metric data, read at export
// time: the OTLP export sees the same series and values as /metrics, with no
// OTel API call per record. Counters are monotonic sums and histograms keep
// their Prometheus bucket bounds; both are cumulative from the agent's start,
// or delta (the change since the previous export) when the exporter prefers.
// Labels become attributes through `attributesOf` (attribution renames its
// labels to OpenTelemetry's k8s.* names).
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { CollectionResult, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';

import type { HistogramSample, Labels, MetricFamily, Sample } from '../aggregate/MetricFamily';
import { otlpName } from './otlpNames';

export const INSTRUMENTATION_SCOPE = 'kernscope';

function hrTimeOf(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** The previous export's cumulative values, by series: what a delta is taken from. */
class DeltaState {
  private previous = new Map<string, number[]>();
  private next = new Map<string, number[]>();

  /** `values` minus what this series had last time (all of it when new, or when the counter restarted). */
  delta(family: string, labels: Sample['labels'], values: number[]): number[] {
    const key = `${family}\u0000${JSON.stringify(labels)}`;
    const before = this.previous.get(key);
    this.next.set(key, values);
    if (!before || values.some((v, i) => v < before[i])) return values;
    return values.map((v, i) => v - before[i]);
  }

  /** Series not seen in this export are forgotten. */
  endExport(): void {
    this.previous = this.next;
    this.next = new Map();
  }
}

export class FamilyMetricProducer implements MetricProducer {
  private readonly delta?: DeltaState;
  private lastExport: HrTime;

  constructor(
    private readonly families: () => MetricFamily[],
    private readonly resource: Resource,
    temporality: AggregationTemporality,
    private readonly attributesOf: (labels: Labels) => Labels = (labels) => labels,
    private readonly startTime: HrTime = hrTimeOf(Date.now()),
  ) {
    if (temporality === AggregationTemporality.DELTA) this.delta = new DeltaState();
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
    const cumulative = AggregationTemporality.CUMULATIVE;
    const temporality = this.delta ? AggregationTemporality.DELTA : cumulative;
    if (family.type === 'histogram') {
      const dataPoints = family.collect().map((s) => ({
        startTime,
        endTime,
        attributes: this.attributesOf(s.labels),
        value: this.histogramValue(family.name, s),
      }));
      return { descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.HISTOGRAM, dataPoints };
    }
    if (family.type === 'gauge') {
      const dataPoints = family
        .collect()
        .map((s) => ({ startTime, endTime, attributes: this.attributesOf(s.labels), value: s.value }));
      return { descriptor, aggregationTemporality: cumulative, dataPointType: DataPointType.GAUGE, dataPoints };
    }
    const dataPoints = family.collect().map((s) => ({
      startTime,
      endTime,
      attributes: this.attributesOf(s.labels),
      value: this.delta ? this.delta.delta(family.name, s.labels, [s.value])[0] : s.value,
    }));
    return {
      descriptor,
      aggregationTemporality: temporality,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    };
  }

  private histogramValue(family: string, sample: HistogramSample) {
    let { counts, sum, count } = sample;
    if (this.delta) {
      const values = this.delta.delta(family, sample.labels, [...counts, sum, count]);
      counts = values.slice(0, counts.length);
      [sum, count] = values.slice(counts.length);
    }
    return { buckets: { boundaries: [...sample.bounds], counts }, sum, count };
  }
}
