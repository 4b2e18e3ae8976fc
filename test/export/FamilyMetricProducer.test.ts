// Families as OTel metric data: kinds, units, bucket bounds, and delta
// temporality (the change since the previous export, a restart taken whole);
// exponential histograms for the families that have exponential buckets.
import { resourceFromAttributes } from '@opentelemetry/resources';
import type {
  ExponentialHistogramMetricData,
  HistogramMetricData,
  MetricData,
  SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import t from 'tap';

import type { HistogramFamily, Sample } from '../../src/aggregate/MetricFamily';
import { ComputedFamily } from '../../src/aggregate/MetricFamily';
import { FamilyMetricProducer } from '../../src/export/FamilyMetricProducer';

const resource = resourceFromAttributes({ 'service.name': 'test' });

function families(counter: () => Sample[], histogram: { counts: number[]; sum: number }) {
  const latency: HistogramFamily = {
    name: 'kernscope_test_duration_seconds',
    help: 'h',
    type: 'histogram',
    collect: () => [
      {
        labels: { op: 'read' },
        bounds: [0.001, 0.004],
        counts: [...histogram.counts],
        sum: histogram.sum,
        count: histogram.counts.reduce((a, b) => a + b, 0),
      },
    ],
  };
  return [new ComputedFamily('kernscope_test_calls_total', 'c', 'counter', counter), latency];
}

async function metrics(producer: FamilyMetricProducer): Promise<MetricData[]> {
  return (await producer.collect()).resourceMetrics.scopeMetrics[0].metrics;
}

void t.test('cumulative: values as they are, names and units mapped', async (t) => {
  const producer = new FamilyMetricProducer(
    () => families(() => [{ labels: { syscall: 'read' }, value: 7 }], { counts: [1, 2, 3], sum: 0.5 }),
    resource,
    { temporality: AggregationTemporality.CUMULATIVE },
  );
  const [calls, latency] = (await metrics(producer)) as [SumMetricData, HistogramMetricData];
  t.match(calls, {
    descriptor: { name: 'kernscope.test.calls', unit: '' },
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
  });
  t.same(calls.dataPoints[0].value, 7);
  t.same(calls.dataPoints[0].attributes, { syscall: 'read' });
  t.match(latency.descriptor, { name: 'kernscope.test.duration', unit: 's' });
  t.same(latency.dataPoints[0].value, {
    buckets: { boundaries: [0.001, 0.004], counts: [1, 2, 3] },
    sum: 0.5,
    count: 6,
  });
});

void t.test('delta: each export carries the change; a counter that went back counts whole', async (t) => {
  let value = 10;
  let counts = [1, 0, 0];
  const producer = new FamilyMetricProducer(
    () => families(() => [{ labels: {}, value }], { counts, sum: counts[0] }),
    resource,
    { temporality: AggregationTemporality.DELTA },
  );
  const first = (await metrics(producer)) as [SumMetricData, HistogramMetricData];
  t.equal(first[0].dataPoints[0].value, 10, 'first export: all of it');
  t.equal(first[0].aggregationTemporality, AggregationTemporality.DELTA);
  value = 14;
  counts = [3, 1, 0];
  const second = (await metrics(producer)) as [SumMetricData, HistogramMetricData];
  t.equal(second[0].dataPoints[0].value, 4, 'then the change');
  t.same(second[1].dataPoints[0].value, {
    buckets: { boundaries: [0.001, 0.004], counts: [2, 1, 0] },
    sum: 2,
    count: 3,
  });
  t.same(second[0].dataPoints[0].startTime, first[0].dataPoints[0].endTime, 'each delta starts where the last ended');
  value = 3;
  const third = (await metrics(producer)) as [SumMetricData, HistogramMetricData];
  t.equal(third[0].dataPoints[0].value, 3, 'a counter that restarted counts from zero');
});

void t.test('exponential asked for: a family is exponential only when all its samples have the buckets', async (t) => {
  const exponential = { schema: 1, zeroCount: 1, offset: -3, counts: [2] };
  const sample = (labels: Sample['labels'], withBuckets: boolean) => ({
    labels,
    bounds: [0, 2 ** -1.5],
    counts: [1, 2, 0],
    sum: 0.5,
    count: 3,
    ...(withBuckets ? { exponential } : {}),
  });
  const histogram = (name: string, withBuckets: boolean[]): HistogramFamily => ({
    name,
    help: 'h',
    type: 'histogram',
    collect: () => withBuckets.map((w, i) => sample({ i: String(i) }, w)),
  });
  const producer = new FamilyMetricProducer(
    () => [histogram('kernscope_a_seconds', [true, true]), histogram('kernscope_b_seconds', [true, false])],
    resource,
    { temporality: AggregationTemporality.CUMULATIVE, histograms: 'exponential' },
  );
  const [a, b] = (await metrics(producer)) as [ExponentialHistogramMetricData, HistogramMetricData];
  t.equal(a.dataPointType, DataPointType.EXPONENTIAL_HISTOGRAM);
  t.strictSame(a.dataPoints[0].value, {
    count: 3,
    sum: 0.5,
    scale: 1,
    zeroCount: 1,
    positive: { offset: -4, bucketCounts: [2] },
    negative: { offset: 0, bucketCounts: [] },
  });
  t.equal(b.dataPointType, DataPointType.HISTOGRAM, 'one sample without: the family stays explicit');
  t.strictSame(b.dataPoints[1].value, {
    buckets: { boundaries: [0, 2 ** -1.5], counts: [1, 2, 0] },
    sum: 0.5,
    count: 3,
  });
});
