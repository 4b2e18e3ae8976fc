// The test OTLP receiver (helpers/otlpReceiver.ts) against the real client: the
// OpenTelemetry SDK's MeterProvider exporting through @opentelemetry/exporter-
// metrics-otlp-grpc, in plaintext and over TLS, with custom metadata, and across
// a receiver restart on the same port. Values are asserted exactly.
import { credentials, Metadata } from '@grpc/grpc-js';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ViewOptions } from '@opentelemetry/sdk-metrics';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import t from 'tap';

import { OtlpReceiver } from '../helpers/otlpReceiver';
import type { HasTeardown } from '../helpers/teardown';
import { selfSignedCert } from '../helpers/tls';

type ExporterOptions = NonNullable<ConstructorParameters<typeof OTLPMetricExporter>[0]>;

/** Resolves when `promise` settles or after `ms`, whichever is first; never rejects. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** A MeterProvider exporting only on forceFlush; shut down at teardown (bounded: the receiver may be gone). */
function startProvider(t: HasTeardown, options: ExporterOptions, views: ViewOptions[] = []): MeterProvider {
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'receiver-test' }),
    views,
    readers: [
      new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(options), exportIntervalMillis: 3_600_000 }),
    ],
  });
  t.teardown(() => settleWithin(provider.shutdown(), 3000));
  return provider;
}

void t.test('a counter and a histogram arrive decoded, with exact values', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  const provider = startProvider(t, { url: `http://127.0.0.1:${receiver.port}` });
  const meter = provider.getMeter('receiver-test');
  meter.createCounter('test.requests', { description: 'requests seen', unit: '{request}' }).add(5, { a: 'x' });
  const histogram = meter.createHistogram('test.latency', {
    unit: 's',
    advice: { explicitBucketBoundaries: [1, 2, 4] },
  });
  histogram.record(0.5);
  histogram.record(3);
  const before = Date.now();
  await provider.forceFlush();

  t.equal(receiver.requests.length, 1, 'forceFlush sent one request');
  t.same(receiver.resourceAttributes()['service.name'], 'receiver-test');
  const metrics = receiver.latestMetrics();
  t.same([...metrics.keys()].sort(), ['test.latency', 'test.requests']);

  const counter = metrics.get('test.requests')!;
  t.match(counter, {
    description: 'requests seen',
    unit: '{request}',
    kind: 'sum',
    temporality: 'cumulative',
    isMonotonic: true,
  });
  t.equal(counter.points.length, 1);
  t.strictSame(counter.points[0].attributes, { a: 'x' });
  t.equal(counter.points[0].value, 5);
  const { startTimeUnixNano, timeUnixNano } = counter.points[0];
  t.ok(startTimeUnixNano > 0 && startTimeUnixNano <= timeUnixNano, 'start <= time');
  t.ok(Math.abs(timeUnixNano / 1e6 - before) < 60_000, `timeUnixNano ${timeUnixNano} is now, in ns`);

  const latency = metrics.get('test.latency')!;
  t.match(latency, { unit: 's', kind: 'histogram', temporality: 'cumulative', isMonotonic: undefined });
  t.equal(latency.points.length, 1);
  t.strictSame(latency.points[0].attributes, {});
  t.match(latency.points[0], { count: 2, sum: 3.5, value: undefined });
  t.strictSame(latency.points[0].bounds, [1, 2, 4]);
  t.strictSame(latency.points[0].bucketCounts, [1, 0, 1, 0]);
});

void t.test("the SDK's own exponential histogram arrives decoded: 1 is in bucket -1, (base^-1, 1]", async (t) => {
  const receiver = await OtlpReceiver.start(t);
  const views = [{ instrumentName: 'test.exponential', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }];
  const provider = startProvider(t, { url: `http://127.0.0.1:${receiver.port}` }, views);
  const histogram = provider.getMeter('receiver-test').createHistogram('test.exponential', { unit: 's' });
  for (const value of [0, 1, 2]) histogram.record(value);
  await provider.forceFlush();

  const metric = receiver.latestMetrics().get('test.exponential')!;
  t.match(metric, { kind: 'exponentialHistogram', temporality: 'cumulative' });
  // 160 buckets at most (the SDK's default): 1 and 2 are 2^scale + 1 buckets apart, so scale 7.
  const buckets = Array<number>(129).fill(0);
  buckets[0] = buckets[128] = 1;
  t.strictSame(metric.points[0], {
    ...metric.points[0],
    count: 3,
    sum: 3,
    scale: 7,
    zeroCount: 1,
    zeroThreshold: 0,
    positive: { offset: -1, bucketCounts: buckets },
    negative: { offset: 0, bucketCounts: [] },
    min: 0,
    max: 2,
  });
});

void t.test('exporter metadata arrives as request metadata', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  const metadata = new Metadata();
  metadata.set('x-test', '1');
  const provider = startProvider(t, { url: `http://127.0.0.1:${receiver.port}`, metadata });
  provider.getMeter('receiver-test').createCounter('test.headers').add(1);
  await provider.forceFlush();

  const [request] = await receiver.waitForRequests(1);
  t.equal(request.metadata['x-test'], '1');
  t.match(request.metadata['user-agent'], /^OTel-OTLP-Exporter-JavaScript\//);
});

void t.test('over TLS with a self-signed certificate', async (t) => {
  const tls = await selfSignedCert(t);
  const receiver = await OtlpReceiver.start(t, { tls });
  const provider = startProvider(t, {
    url: `https://127.0.0.1:${receiver.port}`,
    credentials: credentials.createSsl(tls.cert),
  });
  provider.getMeter('receiver-test').createCounter('test.tls').add(7, { secure: true });
  await provider.forceFlush();

  await receiver.waitForRequests(1);
  t.equal(receiver.resourceAttributes()['service.name'], 'receiver-test');
  const points = receiver.latestMetrics().get('test.tls')?.points ?? [];
  t.equal(points.length, 1);
  t.strictSame(points[0]?.attributes, { secure: true });
  t.equal(points[0]?.value, 7);
});

void t.test('stop, then start again on the same port: the exporter reconnects', async (t) => {
  const first = await OtlpReceiver.start(t);
  const provider = startProvider(t, { url: `http://127.0.0.1:${first.port}` });
  const counter = provider.getMeter('receiver-test').createCounter('test.restart');
  counter.add(2);
  await provider.forceFlush();
  await first.stop();
  await first.stop(); // idempotent

  const second = await OtlpReceiver.start(t, { port: first.port });
  t.equal(second.port, first.port);
  counter.add(3);
  await provider.forceFlush(); // the exporter retries while its channel reconnects
  await provider.shutdown(); // while a receiver is still there

  t.equal(first.requests.length, 1);
  t.equal(first.latestMetrics().get('test.restart')?.points[0].value, 2);
  t.ok(second.requests.length >= 1);
  t.equal(second.latestMetrics().get('test.restart')?.points[0].value, 5, 'cumulative across the restart');
});
