// The agent pushing OTLP to a real gRPC receiver (helpers/otlpReceiver.ts):
// every kernscope family arrives with the values /metrics shows at the same
// moment, under the documented names, units and resource; a collector that
// is absent, appears, and goes away; TLS and headers from the standard
// variables; delta temporality; bad variables refused with one line each.
import os from 'node:os';

import t from 'tap';

import { otlpName } from '../../src/export/otlpNames';
import { buildInfo } from '../../src/kernel/system';
import { AgentProcess } from '../helpers/agent';
import type { Sample } from '../helpers/metrics';
import { select, sumOf, valueOf } from '../helpers/metrics';
import { freePort, httpGet } from '../helpers/net';
import type { ReceivedMetric } from '../helpers/otlpReceiver';
import { OtlpReceiver, flattenAttributes } from '../helpers/otlpReceiver';
import { CLI } from '../helpers/paths';
import { run } from '../helpers/process';
import { syscallWorkload } from '../helpers/syscallWorkload';
import { waitFor } from '../helpers/teardown';
import { selfSignedCert } from '../helpers/tls';

const CALLS = 2500;
const FAST_EXPORTS = { OTEL_METRIC_EXPORT_INTERVAL: '500', OTEL_METRIC_EXPORT_TIMEOUT: '400' };

/** Prometheus families of the samples, by family name (histogram series under the base name). */
function families(samples: Sample[]): Map<string, Sample[]> {
  const byFamily = new Map<string, Sample[]>();
  for (const s of samples) {
    if (!s.name.startsWith('kernscope_')) continue; // process_* and nodejs_* are prom-client's, Prometheus only
    const family = s.name.replace(/_(bucket|sum|count)$/, '');
    byFamily.set(family, [...(byFamily.get(family) ?? []), s]);
  }
  return byFamily;
}

const sameLabels = (a: Record<string, unknown>, b: Record<string, unknown>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/**
 * What /metrics says of one OTLP point, or undefined where /metrics has no
 * such series: the value of a counter or gauge; for a histogram its
 * cumulative bucket counts, bounds, sum and count.
 */
function prometheusView(samples: Sample[], name: string, metric: ReceivedMetric, labels: Record<string, unknown>) {
  if (metric.kind !== 'histogram') {
    const value = samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
    return value === undefined ? undefined : { value };
  }
  const buckets = samples.filter(
    (s) => s.name === `${name}_bucket` && sameLabels({ ...s.labels, le: undefined }, { ...labels, le: undefined }),
  );
  if (buckets.length === 0) return undefined;
  const finite = buckets.filter((b) => b.labels.le !== '+Inf');
  return {
    bounds: finite.map((b) => Number(b.labels.le)),
    cumulative: buckets.map((b) => b.value),
    sum: samples.find((s) => s.name === `${name}_sum` && sameLabels(s.labels, labels))?.value,
    count: samples.find((s) => s.name === `${name}_count` && sameLabels(s.labels, labels))?.value,
  };
}

function otlpView(metric: ReceivedMetric, point: ReceivedMetric['points'][number]) {
  if (metric.kind !== 'histogram') return { value: point.value };
  let running = 0;
  return {
    bounds: point.bounds,
    cumulative: point.bucketCounts?.map((c) => (running += c)),
    sum: point.sum,
    count: point.count,
  };
}

void t.test('every kernscope family arrives over OTLP with the values /metrics shows', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: 3 });
  const agent = await AgentProcess.start(
    t,
    [
      '--probes',
      'syscalls,process',
      '--pid',
      String(workload.pid),
      '--node-name',
      'node-a',
      '--syscall-latency-every',
      '1',
    ],
    {
      env: {
        ...FAST_EXPORTS,
        KERNSCOPE_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
      },
    },
  );
  await workload.run();

  // Nothing moves once the workload is done except the export counter, so a
  // series equal in two scrapes around an export is what that export read.
  let compared = 0;
  let before: Sample[] = [];
  let after: Sample[] = [];
  await waitFor(
    'an export between two equal scrapes that holds the workload',
    async () => {
      before = await agent.metrics();
      const seen = receiver.requests.length;
      await receiver.waitForRequests(seen + 1, 5000);
      after = await agent.metrics();
      const received = receiver.latestMetrics().get('kernscope.syscalls');
      const getppid = received?.points.find((p) => p.attributes.syscall === 'getppid')?.value;
      return getppid === CALLS ? true : undefined;
    },
    { timeoutMs: 20000, intervalMs: 10 },
  );
  t.equal(valueOf(after, 'kernscope_syscalls_total', { syscall: 'getppid' }), CALLS, '/metrics: getppid calls');

  const received = receiver.latestMetrics();
  for (const [name, samples] of families(after)) {
    const type = samples.some((s) => s.name.endsWith('_bucket'))
      ? 'histogram'
      : /_total$/.test(name)
        ? 'counter'
        : 'gauge';
    const { name: otel, unit } = otlpName(name, type);
    const metric = received.get(otel);
    if (!t.ok(metric, `${name} arrives as ${otel}`) || !metric) continue;
    t.equal(metric.unit, unit, `${otel} unit ${JSON.stringify(unit)}`);
    t.equal(metric.kind, { counter: 'sum', gauge: 'gauge', histogram: 'histogram' }[type], `${otel} kind`);
    if (type === 'counter') t.ok(metric.isMonotonic && metric.temporality === 'cumulative', `${otel} cumulative sum`);
    for (const point of metric.points) {
      const stable = prometheusView(before, name, metric, point.attributes);
      const now = prometheusView(after, name, metric, point.attributes);
      if (!now || JSON.stringify(stable) !== JSON.stringify(now)) continue; // moved between the scrapes
      t.same(otlpView(metric, point), now, `${otel} ${JSON.stringify(point.attributes)} equals /metrics`);
      compared++;
    }
  }
  t.ok(compared >= 10, `${compared} series compared value for value`);
  const latency = received.get('kernscope.syscall.duration')!;
  t.ok(
    latency.points.some((p) => p.count === CALLS),
    'the latency histogram holds every getppid call',
  );

  t.match(
    receiver.resourceAttributes(),
    {
      'service.name': 'kernscope',
      'service.version': buildInfo().version,
      'host.name': os.hostname(),
      'os.type': 'linux',
      'k8s.node.name': 'node-a',
      'deployment.environment': 'test',
    },
    'resource attributes',
  );
});

void t.test('collector absent, then started, then gone: the agent keeps serving and counts outcomes', async (t) => {
  const port = await freePort();
  const agent = await AgentProcess.start(
    t,
    ['--probes', 'syscall_counts', '--otlp-endpoint', `http://127.0.0.1:${port}`],
    {
      env: FAST_EXPORTS,
    },
  );
  const exports = async (result: string) =>
    valueOf(await agent.metrics(), 'kernscope_otlp_exports_total', { result }) ?? 0;
  await waitFor('a failed export', async () => ((await exports('failure')) >= 2 ? true : undefined), {
    timeoutMs: 10000,
  });
  t.equal(await exports('success'), 0, 'nothing delivered while the collector is absent');

  const receiver = await OtlpReceiver.start(t, { port });
  await receiver.waitForRequests(1, 30000);
  await waitFor('a successful export', async () => ((await exports('success')) >= 1 ? true : undefined));
  t.ok(receiver.latestMetrics().has('kernscope.syscalls'), 'exports began without a restart');

  await receiver.stop();
  const failures = await exports('failure');
  await waitFor('failures again', async () => ((await exports('failure')) > failures ? true : undefined), {
    timeoutMs: 15000,
  });
  t.equal((await httpGet(agent.port, '/healthz')).status, 200, 'healthy without its collector');
  t.ok(select(await agent.metrics(), 'kernscope_probe_up').length > 0, '/metrics still served');
  const log = agent.log;
  t.equal(log.match(/OTLP export failing/g)?.length, 2, 'failing logged once per outage, not per attempt');
  t.equal(log.match(/OTLP export recovered/g)?.length, 1, 'recovery logged once');

  t.same(await agent.stop('SIGTERM', 10000), { code: 0, signal: null }, 'SIGTERM with the collector gone: exit 0');
});

void t.test('TLS, headers and service name from the standard variables', async (t) => {
  const tls = await selfSignedCert(t);
  const receiver = await OtlpReceiver.start(t, { tls });
  await AgentProcess.start(t, ['--probes', 'syscall_counts'], {
    env: {
      ...FAST_EXPORTS,
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `https://127.0.0.1:${receiver.port}`,
      OTEL_EXPORTER_OTLP_CERTIFICATE: tls.certPath,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-team=sre',
      OTEL_SERVICE_NAME: 'edge-agent',
    },
  });
  const [request] = await receiver.waitForRequests(1, 15000);
  t.equal(request.metadata['x-team'], 'sre', 'header from OTEL_EXPORTER_OTLP_HEADERS');
  t.equal(receiver.resourceAttributes()['service.name'], 'edge-agent', 'OTEL_SERVICE_NAME wins');
  t.ok(receiver.latestMetrics().has('kernscope.syscalls'), 'metrics over TLS');
});

void t.test('delta temporality: the exports add up to the workload', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: 0 });
  const agent = await AgentProcess.start(t, ['--probes', 'syscall_counts', '--pid', String(workload.pid)], {
    env: {
      ...FAST_EXPORTS,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    },
  });
  await workload.run();
  await waitFor('/metrics to hold the workload', async () =>
    valueOf(await agent.metrics(), 'kernscope_syscalls_total', { syscall: 'getppid' }) === CALLS ? true : undefined,
  );
  // Two more exports: one carries the rest of the workload, the next nothing new.
  await receiver.waitForRequests(receiver.requests.length + 2, 5000);
  let total = 0;
  for (const { body } of receiver.requests) {
    for (const metric of body.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))) {
      if (metric.name !== 'kernscope.syscalls') continue;
      t.equal(metric.sum.aggregationTemporality, 'AGGREGATION_TEMPORALITY_DELTA');
      for (const p of metric.sum.dataPoints) {
        if (flattenAttributes(p.attributes).syscall === 'getppid') total += (p.value && p[p.value]) || 0;
      }
    }
  }
  t.equal(total, CALLS, 'delta points sum to the getppid calls');
  t.equal(
    sumOf(await agent.metrics(), 'kernscope_syscalls_total', { syscall: 'getppid' }),
    CALLS,
    '/metrics stays cumulative',
  );
});

void t.test('bad OTEL variables: exit 2 with one line each', async (t) => {
  const result = await run(process.execPath, [CLI, 'run', '--check-config', '--otlp-endpoint', 'http://c:4317'], {
    env: { OTEL_METRIC_EXPORT_INTERVAL: 'often', OTEL_EXPORTER_OTLP_INSECURE: 'maybe' },
  });
  t.equal(result.code, 2, 'exit 2');
  t.same(
    result.stderr.trim().split('\n'),
    [
      'kernscope: invalid OTEL_METRIC_EXPORT_INTERVAL: "often"; expected a positive integer of milliseconds',
      'kernscope: invalid OTEL_EXPORTER_OTLP_INSECURE: "maybe"; expected true or false',
    ],
    'one line per variable',
  );
  const ok = await run(process.execPath, [CLI, 'run', '--check-config'], {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_METRIC_EXPORT_INTERVAL: '15000' },
  });
  t.equal(ok.code, 0, `valid: ${ok.stderr}`);
  t.match(ok.stdout, /otlp http:\/\/c:4317 every 15s cumulative/, 'the summary names the export');
});
