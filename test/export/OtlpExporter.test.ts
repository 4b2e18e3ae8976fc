// The real OtlpExporter, set up by otlpSettings from the standard variables,
// pushing hand-made histogram families to the real gRPC receiver (which
// decodes OTLP protobuf as a collector does): with
// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=
// base2_exponential_bucket_histogram the kernel's exponential buckets arrive
// exactly (scale = schema, offset one less than Prometheus'), cumulative and
// delta; families without them, and every family with the variable unset,
// stay explicit-bucket histograms; a bad value is one line at start.
import t from 'tap';

import type { HistogramFamily, HistogramSample, Labels } from '../../src/aggregate/MetricFamily';
import { DEFAULT_OPTIONS } from '../../src/config/AgentOptions';
import { otlpSettings } from '../../src/config/otlpSettings';
import { OtlpExporter } from '../../src/export/OtlpExporter';
import { Logger } from '../../src/log';
import type { ReceivedPoint } from '../helpers/otlpReceiver';
import { OtlpReceiver } from '../helpers/otlpReceiver';
import { CLI } from '../helpers/paths';
import { run } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';

const EXPONENTIAL = { OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram' };

/** Keeps what the exporter logs at info. */
class CapturingLogger extends Logger {
  readonly infos: { msg: string; fields: Record<string, unknown> }[] = [];

  override info(msg: string, fields: Record<string, unknown> = {}): void {
    this.infos.push({ msg, fields });
  }
}

/**
 * A series as the kernel's exponential slots give it: the same observations as explicit buckets (`le` 0,
 * then each bucket's upper edge, then +Inf) and as exponential ones (Prometheus indexes from `offset`).
 */
function series(
  labels: Labels,
  exponential: { schema: number; zeroCount: number; offset: number; counts: number[] },
  sum: number,
): HistogramSample {
  const { schema, zeroCount, offset, counts } = exponential;
  return {
    labels,
    bounds: [0, ...counts.map((_, i) => 2 ** ((offset + i) / 2 ** schema))],
    counts: [zeroCount, ...counts, 0],
    sum,
    count: counts.reduce((a, b) => a + b, zeroCount),
    exponential,
  };
}

const family = (name: string, collect: () => HistogramSample[]): HistogramFamily => ({
  name,
  help: `${name} help`,
  type: 'histogram',
  collect,
});

/** A family without exponential buckets (its slots are not such buckets). */
const sizes = family('kernscope_test_request_bytes', () => [
  { labels: { op: 'read' }, bounds: [64, 1024], counts: [1, 2, 0], sum: 900, count: 3 },
]);

/**
 * An OtlpExporter to `receiver`, its settings read from `env` (set in process.env too, where the OTLP
 * exporter reads the temporality, until teardown) as the agent reads them; resolves once the export it
 * makes at start has arrived. Exports then happen on forceFlush only.
 */
async function startExporter(
  t: HasTeardown,
  receiver: OtlpReceiver,
  env: NodeJS.ProcessEnv,
  families: HistogramFamily[],
) {
  const saved = Object.keys(env).map((key) => [key, process.env[key]] as const);
  Object.assign(process.env, env);
  t.teardown(() => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  const options = { ...DEFAULT_OPTIONS, otlpEndpoint: `http://127.0.0.1:${receiver.port}` };
  const settings = otlpSettings(options, { ...env, OTEL_METRIC_EXPORT_INTERVAL: '3600000' });
  if (!settings) throw new Error('OTLP is off');
  const log = new CapturingLogger();
  const exporter = new OtlpExporter(settings, log);
  exporter.start(families, 'test');
  t.teardown(() => exporter.shutdown(3000));
  await receiver.waitForRequests(1);
  return { exporter, log };
}

/** The newest point of `metric` with exactly `attributes`. */
function pointOf(receiver: OtlpReceiver, metric: string, attributes: Labels): ReceivedPoint | undefined {
  const key = JSON.stringify(Object.entries(attributes).sort());
  return receiver
    .latestMetrics()
    .get(metric)
    ?.points.find((p) => JSON.stringify(Object.entries(p.attributes).sort()) === key);
}

/** An exponential point's decoded fields, min and max only if present. */
function exponentialView(point: ReceivedPoint | undefined) {
  if (!point) return undefined;
  const { count, sum, scale, zeroCount, zeroThreshold, positive, negative, min, max } = point;
  return {
    count,
    sum,
    scale,
    zeroCount,
    zeroThreshold,
    positive,
    negative,
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
  };
}

const noNegative = { offset: 0, bucketCounts: [] };

void t.test('exponential: the kernel buckets arrive exactly, scale = schema, offset one less', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  const syscalls = family('kernscope_test_syscall_duration_seconds', () => [
    // 2^-21 s < 3 values <= 2^-20 s (about a microsecond), a gap at 2^-19 s, ...
    series({ syscall: 'read' }, { schema: 0, zeroCount: 2, offset: -20, counts: [3, 0, 5, 1] }, 0.0000375),
    series({ syscall: 'write' }, { schema: 0, zeroCount: 0, offset: 1, counts: [4] }, 7.5),
    series({ syscall: 'idle' }, { schema: 0, zeroCount: 3, offset: 0, counts: [] }, 0),
  ]);
  const runqueue = family('kernscope_test_runqueue_latency_seconds', () => [
    series({ cpu: '0' }, { schema: 2, zeroCount: 0, offset: -80, counts: [1, 4, 0, 0, 2] }, 0.00001),
  ]);
  const { log } = await startExporter(t, receiver, EXPONENTIAL, [syscalls, runqueue, sizes]);

  const metrics = receiver.latestMetrics();
  t.match(metrics.get('kernscope.test.syscall.duration'), {
    kind: 'exponentialHistogram',
    unit: 's',
    description: 'kernscope_test_syscall_duration_seconds help',
    temporality: 'cumulative',
  });
  const syscall = (labels: Labels) => exponentialView(pointOf(receiver, 'kernscope.test.syscall.duration', labels));
  t.strictSame(
    syscall({ syscall: 'read' }),
    {
      count: 11,
      sum: 0.0000375,
      scale: 0,
      zeroCount: 2,
      zeroThreshold: 0,
      positive: { offset: -21, bucketCounts: [3, 0, 5, 1] },
      negative: noNegative,
    },
    'a negative offset, a gap, a zero count; no min or max',
  );
  t.strictSame(
    syscall({ syscall: 'write' }),
    {
      count: 4,
      sum: 7.5,
      scale: 0,
      zeroCount: 0,
      zeroThreshold: 0,
      positive: { offset: 0, bucketCounts: [4] },
      negative: noNegative,
    },
    'Prometheus bucket 1, (1 s, 2 s], is OTLP bucket 0',
  );
  t.strictSame(
    syscall({ syscall: 'idle' }),
    { count: 3, sum: 0, scale: 0, zeroCount: 3, zeroThreshold: 0, positive: noNegative, negative: noNegative },
    'only zeros: no buckets',
  );
  t.strictSame(
    exponentialView(pointOf(receiver, 'kernscope.test.runqueue.latency', { cpu: '0' })),
    {
      count: 7,
      sum: 0.00001,
      scale: 2,
      zeroCount: 0,
      zeroThreshold: 0,
      positive: { offset: -81, bucketCounts: [1, 4, 0, 0, 2] },
      negative: noNegative,
    },
    'schema 2: scale 2',
  );
  t.match(metrics.get('kernscope.test.request'), { kind: 'histogram', unit: 'By' }, 'no exponential buckets: explicit');
  t.match(pointOf(receiver, 'kernscope.test.request', { op: 'read' }), { bounds: [64, 1024], bucketCounts: [1, 2, 0] });
  t.match(log.infos.find((l) => l.msg === 'OTLP export on')?.fields, { histograms: 'exponential' }, 'logged');
});

void t.test('unset: explicit buckets, also for families that have exponential ones', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  const syscalls = family('kernscope_test_syscall_duration_seconds', () => [
    series({ syscall: 'read' }, { schema: 0, zeroCount: 2, offset: -20, counts: [3, 0, 5, 1] }, 0.0000375),
  ]);
  const { log } = await startExporter(t, receiver, {}, [syscalls, sizes]);

  t.match(receiver.latestMetrics().get('kernscope.test.syscall.duration'), { kind: 'histogram', unit: 's' });
  const point = pointOf(receiver, 'kernscope.test.syscall.duration', { syscall: 'read' });
  t.match(point, { count: 11, sum: 0.0000375, scale: undefined, positive: undefined });
  t.strictSame(point?.bounds, [0, 2 ** -20, 2 ** -19, 2 ** -18, 2 ** -17], 'le 0, then each upper edge');
  t.strictSame(point?.bucketCounts, [2, 3, 0, 5, 1, 0]);
  t.equal(receiver.latestMetrics().get('kernscope.test.request')?.kind, 'histogram');
  t.match(log.infos.find((l) => l.msg === 'OTLP export on')?.fields, { histograms: 'explicit' }, 'logged');
});

void t.test('delta: the change per bucket index, offsets moving, a restart sent whole', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  // Cumulative state the families read; each step below changes it, then exports.
  let read = { schema: 0, zeroCount: 2, offset: -20, counts: [3, 0, 5, 1] };
  let readSum = 0.5;
  let write = { schema: 0, zeroCount: 0, offset: -20, counts: [1, 1, 1, 1] };
  let cpu = { schema: 2, zeroCount: 1, offset: -80, counts: [1, 4, 0, 0, 2] };
  const syscalls = family('kernscope_test_syscall_duration_seconds', () => [
    series({ syscall: 'read' }, read, readSum),
    series({ syscall: 'write' }, write, 0.25),
  ]);
  const runqueue = family('kernscope_test_runqueue_latency_seconds', () => [series({ cpu: '0' }, cpu, 0.125)]);
  const env = { ...EXPONENTIAL, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta' };
  const { exporter } = await startExporter(t, receiver, env, [syscalls, runqueue]);
  const syscall = (labels: Labels) => exponentialView(pointOf(receiver, 'kernscope.test.syscall.duration', labels));
  const runqueueView = () => exponentialView(pointOf(receiver, 'kernscope.test.runqueue.latency', { cpu: '0' }));
  const empty = { offset: 0, bucketCounts: [] };

  t.equal(receiver.latestMetrics().get('kernscope.test.syscall.duration')?.temporality, 'delta');
  t.strictSame(
    syscall({ syscall: 'read' }),
    {
      count: 11,
      sum: 0.5,
      scale: 0,
      zeroCount: 2,
      zeroThreshold: 0,
      positive: { offset: -21, bucketCounts: [3, 0, 5, 1] },
      negative: empty,
    },
    'first export: all of it',
  );
  const first = pointOf(receiver, 'kernscope.test.syscall.duration', { syscall: 'read' })!;

  // New buckets below (-22) and above (-15) the range; -18 grows; write grows inside its range only.
  read = { schema: 0, zeroCount: 5, offset: -22, counts: [1, 0, 3, 0, 7, 1, 0, 2] };
  readSum = 0.75;
  write = { schema: 0, zeroCount: 0, offset: -20, counts: [1, 3, 1, 1] };
  cpu = { schema: 2, zeroCount: 1, offset: -80, counts: [1, 4, 0, 0, 2, 0, 1] };
  await exporter.forceFlush();
  t.strictSame(
    syscall({ syscall: 'read' }),
    {
      count: 8,
      sum: 0.25,
      scale: 0,
      zeroCount: 3,
      zeroThreshold: 0,
      positive: { offset: -23, bucketCounts: [1, 0, 0, 0, 2, 0, 0, 2] },
      negative: empty,
    },
    'the range grew both ways',
  );
  t.strictSame(
    syscall({ syscall: 'write' }),
    {
      count: 2,
      sum: 0,
      scale: 0,
      zeroCount: 0,
      zeroThreshold: 0,
      positive: { offset: -20, bucketCounts: [2] },
      negative: empty,
    },
    'unchanged buckets at both ends are left out',
  );
  t.strictSame(
    runqueueView(),
    {
      count: 1,
      sum: 0,
      scale: 2,
      zeroCount: 0,
      zeroThreshold: 0,
      positive: { offset: -75, bucketCounts: [1] },
      negative: empty,
    },
    'scale 2',
  );
  const second = pointOf(receiver, 'kernscope.test.syscall.duration', { syscall: 'read' })!;
  t.equal(second.startTimeUnixNano, first.timeUnixNano, 'each delta starts where the last ended');

  await exporter.forceFlush();
  t.strictSame(
    syscall({ syscall: 'read' }),
    { count: 0, sum: 0, scale: 0, zeroCount: 0, zeroThreshold: 0, positive: empty, negative: empty },
    'nothing new: no buckets',
  );

  // The counters restarted (the probe was reloaded): fewer observations than before.
  read = { schema: 0, zeroCount: 0, offset: -19, counts: [1] };
  readSum = 0.125;
  await exporter.forceFlush();
  t.strictSame(
    syscall({ syscall: 'read' }),
    {
      count: 1,
      sum: 0.125,
      scale: 0,
      zeroCount: 0,
      zeroThreshold: 0,
      positive: { offset: -20, bucketCounts: [1] },
      negative: empty,
    },
    'a restart counts from zero',
  );
  t.strictSame(
    syscall({ syscall: 'write' }),
    { count: 0, sum: 0, scale: 0, zeroCount: 0, zeroThreshold: 0, positive: empty, negative: empty },
    'another series unaffected',
  );
  t.equal(receiver.requests.length, 4, 'one request per export');
});

void t.test('a bad value: one line naming the variable and the accepted values, exit 2', async (t) => {
  const variable = 'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION';
  const args = [CLI, 'run', '--check-config', '--otlp-endpoint', 'http://c:4317'];
  const bad = await run(process.execPath, args, { env: { [variable]: 'exponential' } });
  t.equal(bad.code, 2, 'exit 2');
  t.same(bad.stderr.trim().split('\n'), [
    `kernscope: invalid ${variable}: "exponential"; expected explicit_bucket_histogram, base2_exponential_bucket_histogram`,
  ]);
  const ok = await run(process.execPath, args, { env: { [variable]: 'BASE2_EXPONENTIAL_BUCKET_HISTOGRAM' } });
  t.equal(ok.code, 0, `any case is accepted: ${ok.stderr}`);
});
