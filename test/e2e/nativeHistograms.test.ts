// The kernel's latency slots arrive as native and exponential histograms
// exactly: one agent (syscalls probe, every call timed, schema 2) over a
// known workload of getppid calls and sleeps; once it is done, the kernel's
// own map (read with bpftool, not the addon) is the truth. A real Prometheus
// 2.42 with native histograms scrapes the agent (protobuf): histogram_count
// and histogram_sum are the kernel's count and sum, and histogram_quantile
// falls inside the slot the kernel's counts put the quantile in (Prometheus
// interpolates within a bucket, never across). The real gRPC receiver gets an
// exponential histogram of the same scale, offset and counts.
import { execFileSync } from 'node:child_process';

import t from 'tap';

import { nativeIndexOfSlot, slotUpperEdge } from '../../src/decode/latencySlots';
import { AgentProcess } from '../helpers/agent';
import { bpfIdsOf, mapById } from '../helpers/bpftool';
import { GatedWorkload } from '../helpers/gatedWorkload';
import { OtlpReceiver } from '../helpers/otlpReceiver';
import { PrometheusServer } from '../helpers/prometheus';
import { waitFor } from '../helpers/teardown';

const SCHEMA = 2;
const GETPPID_CALLS = 3000;
const SLEEPS = 200;
/** x86_64 syscall numbers, the probe's map key. */
const SYSCALLS = { getppid: 110, clock_nanosleep: 230 };

interface KernelHistogram {
  slots: number[];
  sumNs: number;
  count: number;
}

/** The agent's syscall_stats map as the kernel holds it, summed over CPUs, by syscall number. */
function kernelHistograms(agentPid: number): Map<number, KernelHistogram> {
  const map = bpfIdsOf(agentPid)
    .mapIds.map(mapById)
    .find((m) => m.name === 'syscall_stats');
  if (!map) throw new Error('the agent holds no syscall_stats map');
  const out = execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(map.id)], { encoding: 'utf8' });
  type Entry = { formatted: { key: { id: number }; values: { value: { sum_ns: number; slots: number[] } }[] } };
  const histograms = new Map<number, KernelHistogram>();
  for (const { formatted } of JSON.parse(out) as Entry[]) {
    const slots = formatted.values[0].value.slots.map(() => 0);
    let sumNs = 0;
    for (const { value } of formatted.values) {
      value.slots.forEach((n, i) => (slots[i] += n));
      sumNs += value.sum_ns;
    }
    histograms.set(formatted.key.id, { slots, sumNs, count: slots.reduce((a, b) => a + b, 0) });
  }
  return histograms;
}

/** The slot holding quantile q: the first whose cumulative count reaches q * count, as Prometheus ranks. */
function quantileSlot(h: KernelHistogram, q: number): number {
  let cumulative = 0;
  return h.slots.findIndex((n) => (cumulative += n) >= q * h.count);
}

void t.test('native and exponential histograms carry the kernel slots exactly', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  const workload = GatedWorkload.start(
    t,
    `import time\nfor _ in range(${GETPPID_CALLS}):\n    os.getppid()\n` +
      `for i in range(${SLEEPS}):\n    time.sleep((50e-6, 200e-6, 1e-3, 3e-3)[i % 4])`,
  );
  await workload.started();
  const agent = await AgentProcess.start(
    t,
    [
      '--probes',
      'syscalls',
      '--pid',
      String(workload.pid),
      '--syscall-latency-every',
      '1',
      '--histogram-schema',
      String(SCHEMA),
    ],
    {
      env: {
        KERNSCOPE_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_METRIC_EXPORT_INTERVAL: '500',
        OTEL_METRIC_EXPORT_TIMEOUT: '400',
        OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
      },
    },
  );
  const prometheus = await PrometheusServer.start(t, [`127.0.0.1:${agent.port}`], { features: ['native-histograms'] });
  await workload.run(60000);
  const done = Date.now();
  const kernel = kernelHistograms(agent.child.pid!);
  const getppid = kernel.get(SYSCALLS.getppid)!;
  const sleeps = kernel.get(SYSCALLS.clock_nanosleep)!;
  t.equal(getppid.count, GETPPID_CALLS, 'the kernel counted every getppid');
  t.equal(sleeps.count, SLEEPS, 'and every sleep');
  t.equal(getppid.slots.length, 2 + (64 << SCHEMA), `schema ${SCHEMA}'s slots`);

  await prometheus.scrapeAfter(done + 1000, 15000);
  for (const [name, h] of [
    ['getppid', getppid],
    ['clock_nanosleep', sleeps],
  ] as const) {
    const series = `kernscope_syscall_duration_seconds{syscall="${name}"}`;
    t.equal(await prometheus.value(`histogram_count(${series})`), h.count, `${name}: histogram_count`);
    const sum = (await prometheus.value(`histogram_sum(${series})`)) ?? NaN;
    t.ok(Math.abs(sum - h.sumNs * 1e-9) <= 1e-9 * h.sumNs * 1e-9, `${name}: histogram_sum ${sum} s`);
    for (const q of [0.1, 0.5, 0.9, 0.99]) {
      const slot = quantileSlot(h, q);
      const [lower, upper] = [slotUpperEdge(slot - 1, SCHEMA), slotUpperEdge(slot, SCHEMA)];
      const value = (await prometheus.value(`histogram_quantile(${q}, ${series})`)) ?? NaN;
      t.ok(
        value > lower && value <= upper,
        `${name}: p${q * 100} ${value} s in the kernel's slot (${lower}, ${upper}]`,
      );
    }
  }
  t.equal(
    await prometheus.value('count(kernscope_syscall_duration_seconds_bucket)'),
    undefined,
    'Prometheus 2.42 keeps the native histogram, not the classic buckets beside it',
  );
  const classic = (await agent.metrics()).filter(
    (s) => s.name.startsWith('kernscope_syscall_duration_seconds') && s.labels.syscall === 'getppid',
  ).length;
  t.equal(classic, 14, 'classic: 12 buckets, _sum and _count per labelled histogram');
  t.equal(
    await prometheus.value('count({__name__=~"kernscope_syscall_duration_seconds.*", syscall="getppid"})'),
    1,
    'native: one series',
  );

  await waitFor(
    'an export holding the whole workload',
    () => {
      const metric = receiver.latestMetrics().get('kernscope.syscall.duration');
      const point = metric?.points.find((p) => p.attributes.syscall === 'getppid');
      return point?.count === GETPPID_CALLS ? true : undefined;
    },
    { timeoutMs: 15000, intervalMs: 100 },
  );
  const metric = receiver.latestMetrics().get('kernscope.syscall.duration')!;
  t.equal(metric.kind, 'exponentialHistogram', 'OTLP: an exponential histogram');
  for (const [name, h] of [
    ['getppid', getppid],
    ['clock_nanosleep', sleeps],
  ] as const) {
    const point = metric.points.find((p) => p.attributes.syscall === name)!;
    const first = h.slots.findIndex((n, i) => i > 0 && n > 0);
    let last = h.slots.length - 1;
    while (h.slots[last] === 0) last--;
    t.same(
      {
        scale: point.scale,
        zeroCount: point.zeroCount,
        offset: point.positive?.offset,
        counts: point.positive?.bucketCounts,
        count: point.count,
      },
      {
        scale: SCHEMA,
        zeroCount: h.slots[0],
        offset: nativeIndexOfSlot(first, SCHEMA) - 1,
        counts: h.slots.slice(first, last + 1),
        count: h.count,
      },
      `${name}: OTLP scale, offset and bucket counts are the kernel's slots`,
    );
  }
});
