// The protobuf exposition, read back by an independent decoder (protobufjs
// with client_model's metrics.proto): exact values of counters, gauges,
// classic and native histograms (spans split at gaps, an empty one that
// Prometheus 2.42 still takes for native), odd label values, the yields of a
// long render, and prom-client's default metrics in the output.
import { Histogram } from 'prom-client';
import t from 'tap';

import type { HistogramFamily, HistogramSample, Labels, ScalarFamily } from '../../src/aggregate/MetricFamily';
import { ComputedFamily } from '../../src/aggregate/MetricFamily';
import { YIELD_EVERY } from '../../src/export/familyWalk';
import { PrometheusExporter } from '../../src/export/PrometheusExporter';
import { NATIVE_ZERO_THRESHOLD, encodeFamilies } from '../../src/export/protobufExposition';
import { decodeFamilies, isNativeFor242 } from './metricsProto';
import { loopTurnsDuring } from '../helpers/loopTurns';

function histogramFamily(name: string, samples: HistogramSample[]): HistogramFamily {
  return { name, help: `${name} help.`, type: 'histogram', collect: () => samples };
}

void t.test('counters and gauges: name, help, type, labels (odd ones too) and values', async (t) => {
  const odd: Labels = { comm: 'a"b\\c\nd', path: '/tmp/ünï cödé ✓ 🦀 \u0000', empty: '', long: 'x'.repeat(200) };
  const counter = new ComputedFamily('ks_calls_total', 'Calls.\nSecond line \\ here.', 'counter', () => [
    { labels: {}, value: 3 },
    { labels: odd, value: 1.5 },
    { labels: { big: '1' }, value: 2 ** 53 + 2 },
  ]);
  const gauge = new ComputedFamily('ks_up', 'Up.', 'gauge', () => [
    { labels: { probe: 'exec' }, value: -0.25 },
    { labels: { probe: 'nan' }, value: NaN },
    { labels: { probe: 'inf' }, value: -Infinity },
  ]);
  const families = decodeFamilies(await encodeFamilies([counter, gauge]));
  t.strictSame(families[0], {
    name: 'ks_calls_total',
    help: 'Calls.\nSecond line \\ here.',
    type: 'COUNTER',
    metric: [
      { counter: { value: 3 } },
      {
        label: Object.entries(odd).map(([name, value]) => ({ name, value })),
        counter: { value: 1.5 },
      },
      { label: [{ name: 'big', value: '1' }], counter: { value: 2 ** 53 + 2 } },
    ],
  });
  t.strictSame(families[1].type, 'GAUGE');
  t.strictSame(
    families[1].metric?.map((m) => [m.label, m.gauge?.value]),
    [
      [[{ name: 'probe', value: 'exec' }], -0.25],
      [[{ name: 'probe', value: 'nan' }], NaN],
      [[{ name: 'probe', value: 'inf' }], -Infinity],
    ],
  );
  t.equal(families.length, 2, 'nothing else');
  // The same labels object again: its encoding comes from the cache, and must be the same bytes.
  t.strictSame(decodeFamilies(await encodeFamilies([counter, gauge])), families, 'a second render, labels cached');
});

void t.test('a family with no series is left out', async (t) => {
  const none = new ComputedFamily('ks_none_total', 'None.', 'counter', () => []);
  const one = new ComputedFamily('ks_one', 'One.', 'gauge', () => [{ labels: {}, value: 1 }]);
  const families = decodeFamilies(await encodeFamilies([none, one, none]));
  t.strictSame(
    families.map((f) => f.name),
    ['ks_one'],
  );
});

void t.test(
  'a classic histogram: cumulative buckets without +Inf, count and sum; Prometheus reads it as classic',
  async (t) => {
    const family = histogramFamily('ks_duration_seconds', [
      { labels: { disk: 'vda' }, bounds: [0.001, 0.004, 0.016], counts: [1, 0, 2, 3], sum: 0.5, count: 6 },
    ]);
    const [decoded] = decodeFamilies(await encodeFamilies([family]));
    t.strictSame(decoded, {
      name: 'ks_duration_seconds',
      help: 'ks_duration_seconds help.',
      type: 'HISTOGRAM',
      metric: [
        {
          label: [{ name: 'disk', value: 'vda' }],
          histogram: {
            sample_count: 6,
            sample_sum: 0.5,
            bucket: [
              { cumulative_count: 1, upper_bound: 0.001 },
              { cumulative_count: 1, upper_bound: 0.004 },
              { cumulative_count: 3, upper_bound: 0.016 },
            ],
          },
        },
      ],
    });
    t.notOk(isNativeFor242(decoded.metric?.[0].histogram ?? {}), 'classic for Prometheus 2.42');
  },
);

void t.test(
  'a native histogram: schema, zero bucket, spans split at gaps, deltas; classic buckets beside',
  async (t) => {
    // Schema 1: bucket i is (2^((i-1)/2), 2^(i/2)]. Indexes -3..5, gaps of 3 and 1 zero buckets.
    const counts = [1, 2, 0, 0, 0, 4, 0, 1, 3];
    const bounds = counts.map((_, i) => 2 ** ((i - 3) / 2));
    const sample: HistogramSample = {
      labels: { op: 'read' },
      bounds,
      // The zero bucket's 2 in the first classic bucket; nothing in +Inf.
      counts: [2 + counts[0], ...counts.slice(1), 0],
      sum: 40.5,
      count: 13,
      exponential: { schema: 1, zeroCount: 2, offset: -3, counts },
    };
    const [decoded] = decodeFamilies(await encodeFamilies([histogramFamily('ks_native_seconds', [sample])]));
    const histogram = decoded.metric?.[0].histogram ?? {};
    t.strictSame(histogram, {
      sample_count: 13,
      sample_sum: 40.5,
      bucket: [3, 5, 5, 5, 5, 9, 9, 10, 13].map((cumulative, i) => ({
        cumulative_count: cumulative,
        upper_bound: bounds[i],
      })),
      schema: 1,
      zero_threshold: NATIVE_ZERO_THRESHOLD,
      zero_count: 2,
      positive_span: [
        { offset: -3, length: 2 },
        { offset: 3, length: 1 },
        { offset: 1, length: 2 },
      ],
      positive_delta: [1, 1, 2, -3, 2],
    });
    t.ok(isNativeFor242(histogram), 'native for Prometheus 2.42');
    t.ok(
      NATIVE_ZERO_THRESHOLD > 0 && NATIVE_ZERO_THRESHOLD < 2 ** (-30 - 1),
      'the zero bucket: below any bucket of ours',
    );
  },
);

void t.test('an empty native histogram is still native for Prometheus 2.42 (zero threshold above 0)', async (t) => {
  const empty: HistogramSample = {
    labels: {},
    bounds: [1, 2],
    counts: [0, 0, 0],
    sum: 0,
    count: 0,
    exponential: { schema: 0, zeroCount: 0, offset: 0, counts: [] },
  };
  const [decoded] = decodeFamilies(await encodeFamilies([histogramFamily('ks_empty_seconds', [empty])]));
  const histogram = decoded.metric?.[0].histogram ?? {};
  t.strictSame(histogram, {
    sample_count: 0,
    sample_sum: 0,
    bucket: [
      { cumulative_count: 0, upper_bound: 1 },
      { cumulative_count: 0, upper_bound: 2 },
    ],
    schema: 0,
    zero_threshold: NATIVE_ZERO_THRESHOLD,
    zero_count: 0,
  });
  t.ok(isNativeFor242(histogram), 'native: 2.42 looks at deltas, zero count and threshold, not spans');
});

void t.test('large values and messages: 64-bit counts, lengths of several bytes', async (t) => {
  // 300 classic buckets: a histogram message over 3 KiB; counts past 2^32 and 2^50.
  const counts = Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? 0 : 2 ** 40 + i));
  counts[299] = 2 ** 50;
  const finite = counts.slice(0, 299);
  const total = counts.reduce((a, b) => a + b, 0);
  const sample: HistogramSample = {
    labels: { long: 'v'.repeat(20000) },
    bounds: finite.map((_, i) => i + 1),
    counts,
    sum: 1e300,
    count: total,
    exponential: { schema: 3, zeroCount: 2 ** 45, offset: -240, counts: finite },
  };
  const [decoded] = decodeFamilies(await encodeFamilies([histogramFamily('ks_big', [sample])]));
  const metric = decoded.metric?.[0] ?? {};
  t.equal(metric.label?.[0].value?.length, 20000, 'a 20000-byte label value');
  const histogram = metric.histogram ?? {};
  t.equal(histogram.sample_count, total);
  t.equal(histogram.zero_count, 2 ** 45);
  let cumulative = 0;
  t.strictSame(
    histogram.bucket,
    finite.map((count, i) => ({ cumulative_count: (cumulative += count), upper_bound: i + 1 })),
  );
  // Back from spans and deltas to dense counts from index -240.
  const dense = finite.map(() => 0);
  const deltas = histogram.positive_delta ?? [];
  let at = 0;
  let count = 0;
  let d = 0;
  for (const [n, { offset = 0, length = 0 }] of (histogram.positive_span ?? []).entries()) {
    at = n === 0 ? offset : at + offset;
    for (let i = 0; i < length; i++, at++) dense[at + 240] = count += deltas[d++];
  }
  t.equal(d, deltas.length, 'as many deltas as the spans say');
  t.strictSame(dense, finite, 'the exponential counts, from spans and deltas');
});

void t.test('a long render yields to the event loop, and encodes every series', async (t) => {
  const many: ScalarFamily = new ComputedFamily('ks_many_total', 'Many.', 'counter', () =>
    Array.from({ length: 5 * YIELD_EVERY }, (_, i) => ({ labels: { i: String(i) }, value: i })),
  );
  const { result: bytes, turns } = await loopTurnsDuring(() => encodeFamilies([many], 1024));
  const [decoded] = decodeFamilies(bytes);
  t.equal(decoded.metric?.length, 5 * YIELD_EVERY, 'every series');
  t.strictSame(decoded.metric?.[4321], { label: [{ name: 'i', value: '4321' }], counter: { value: 4321 } });
  t.ok(turns >= 4, `the event loop turned ${turns} times during the render`);
});

void t.test("prom-client's default metrics, then the agent's families", async (t) => {
  const agentFamily = new ComputedFamily('kernscope_probe_up', 'Up.', 'gauge', () => [
    { labels: { probe: 'exec' }, value: 1 },
  ]);
  const exporter = new PrometheusExporter([agentFamily]);
  // A histogram in the registry, as prom-client hands them out: cumulative, le among the labels.
  const histogram = new Histogram({
    name: 'test_wait_seconds',
    help: 'Wait.',
    labelNames: ['kind'],
    buckets: [0.1, 1],
    registers: [exporter.registry],
  });
  for (const v of [0.0625, 0.5, 0.75, 3]) histogram.observe({ kind: 'a' }, v);
  histogram.observe({ kind: 'b' }, 0.2);
  const families = decodeFamilies(await exporter.protobuf());
  const byName = new Map(families.map((f) => [f.name, f]));
  for (const metric of await exporter.registry.getMetricsAsJSON()) {
    if (metric.values.length === 0) continue;
    t.equal(byName.get(metric.name)?.type, String(metric.type).toUpperCase(), `${metric.name}: present, typed`);
  }
  t.ok(byName.get('process_cpu_user_seconds_total')?.metric?.[0].counter?.value !== undefined, 'a default counter');
  t.ok((byName.get('process_resident_memory_bytes')?.metric?.[0].gauge?.value ?? 0) > 0, 'a default gauge');
  t.strictSame(
    byName.get('nodejs_version_info')?.metric?.[0].label?.find((l) => l.name === 'major'),
    { name: 'major', value: process.versions.node.split('.')[0] },
    'a numeric label value, as text',
  );
  t.strictSame(byName.get('test_wait_seconds')?.metric, [
    {
      label: [{ name: 'kind', value: 'a' }],
      histogram: {
        sample_count: 4,
        sample_sum: 4.3125,
        bucket: [
          { cumulative_count: 1, upper_bound: 0.1 },
          { cumulative_count: 3, upper_bound: 1 },
        ],
      },
    },
    {
      label: [{ name: 'kind', value: 'b' }],
      histogram: {
        sample_count: 1,
        sample_sum: 0.2,
        bucket: [
          { cumulative_count: 0, upper_bound: 0.1 },
          { cumulative_count: 1, upper_bound: 1 },
        ],
      },
    },
  ]);
  t.strictSame(families.at(-1), {
    name: 'kernscope_probe_up',
    help: 'Up.',
    type: 'GAUGE',
    metric: [{ label: [{ name: 'probe', value: 'exec' }], gauge: { value: 1 } }],
  });
  // The text render has the same families (the ones with series).
  const text = await exporter.metrics();
  const typed = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
  t.ok(
    families.every((f) => typed.includes(f.name ?? '')),
    'every protobuf family is in the text too',
  );
});
