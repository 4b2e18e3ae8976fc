// `kernscope trace runqueue`: with trace records on, every wait the probe's
// histogram observes is also one ring record, sent by the same sched_switch
// run. Two Python spinners (named ks-spin) and a sleeper (ks-sleep, 0.5 ms
// naps), pinned to CPU 0 in a cgroup of their own (the filter), wait for each
// other: the spinners for about a slice (milliseconds), the sleeper mostly
// less. Which waits happen is up to the scheduler, so the reference is the
// probe's own histogram over the same interval: records and observations are
// equal in number, and with a minimum latency on a log2 slot edge the records
// are exactly the observations in the slots from there up. The workers are
// stopped (SIGSTOP) before either is read, so nothing changes in between.
import { readFileSync } from 'node:fs';

import t from 'tap';

import { mapFamilies } from '../../src/aggregate/MapMetrics';
import type { HistogramFamily } from '../../src/aggregate/MetricFamily';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { RingDrain } from '../../src/drain/RingDrain';
import { resolveCgroup } from '../../src/kernel/cgroup';
import type { LoadSettings } from '../../src/load/ProbeLoader';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import { addon } from '../../src/native/addon';
import { RUNQUEUE_LATENCY_BOUNDS, runqueueProbe } from '../../src/probes/runqueue';
import { sumU64, u32 } from '../helpers/bytes';
import { createCgroup } from '../helpers/cgroup';
import { spawnClean } from '../helpers/process';
import type { DecodedRecord } from '../helpers/recordCollector';
import { RecordCollector } from '../helpers/recordCollector';
import type { HasTeardown } from '../helpers/teardown';
import { sleep, waitFor } from '../helpers/teardown';

const RUN_MS = 1000;
/** Command name and nap (s) of each worker; 0: it spins without a syscall. */
const WORKERS = [
  { comm: 'ks-spin', nap: 0 },
  { comm: 'ks-spin', nap: 0 },
  { comm: 'ks-sleep', nap: 0.0005 },
];
/** A slot edge, 2^-10 s (976562.5 ns): a wait of whole nanoseconds lies above it exactly from MIN_LATENCY_NS. */
const MIN_LATENCY_EDGE_S = 2 ** -10;
const MIN_LATENCY_NS = Math.ceil(MIN_LATENCY_EDGE_S * 1e9);
/** A few thousand waits a second, 96 bytes each with the ring's own header. */
const RING_BYTES = 1 << 22;
const TRACE = runqueueProbe.trace!;
const RECORD = runqueueProbe.record!;

/** Joins the cgroup (argv 1), pins itself to CPU 0, takes its name (argv 2), then naps (argv 3) or spins. */
const WORKER = `
import ctypes, os, sys, time
procs, name, nap = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(procs, 'w') as f:
    f.write(str(os.getpid()))
os.sched_setaffinity(0, {0})
ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
print('running', flush=True)
while True:
    if nap:
        time.sleep(nap)
`;

interface Traced {
  /** Worker pid -> its command name, in WORKERS order. */
  workers: Map<number, string>;
  records: DecodedRecord[];
  /** The probe's histogram of the same waits (HistogramSample: counts per bucket, not cumulative). */
  histogram: { count: number; counts: number[] };
  drops: number;
  recordType: number | undefined;
}

function stopped(pid: number): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'T';
}

/** The workers in a new cgroup; the probe (filtered to it) traces them for RUN_MS, then they are stopped. */
async function traceWorkers(t: HasTeardown, trace: (pids: number[]) => LoadSettings['trace']): Promise<Traced> {
  const cgroup = createCgroup(t);
  // Started together: each takes seconds to start on a busy machine.
  const started = WORKERS.map(({ comm, nap }) => {
    const child = spawnClean('python3', ['-c', WORKER, `${cgroup}/cgroup.procs`, comm, String(nap)]);
    t.teardown(() => void child.kill('SIGKILL'));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    return { pid: child.pid!, comm, running: () => out.includes('running') };
  });
  await waitFor('workers to start', () => (started.every((w) => w.running()) ? true : undefined), {
    timeoutMs: 30000,
  });
  const workers = new Map(started.map((w) => [w.pid, w.comm]));
  const pids = [...workers.keys()];
  // Loaded once they run under their names: every wait it sees is a worker's, under its name.
  const loaded = new ProbeLoader(addon.kernelFeatures()).load(runqueueProbe, {
    ringBytes: RING_BYTES,
    wakeupBytes: RING_BYTES,
    cgroup: resolveCgroup(cgroup),
    trace: trace(pids),
  });
  const collector = new RecordCollector();
  const drain = new RingDrain(loaded.object, collector.sink, { intervalMs: 1000 });
  t.teardown(() => {
    drain.stop();
    loaded.object.close();
  });

  await sleep(RUN_MS);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  await waitFor('workers to stop', () => (pids.every(stopped) ? true : undefined));
  drain.drain();
  const [histogram] = mapFamilies(loaded.object, runqueueProbe.mapMetrics, { limits: { maxSeries: 10, ttlMs: 0 } }) as [
    HistogramFamily,
  ];
  const [sample] = histogram.collect();
  return {
    workers,
    records: collector.decoded(RecordLayout.fromObject(loaded.object, RECORD.struct)),
    histogram: { count: sample?.count ?? 0, counts: sample?.counts ?? [] },
    drops: sumU64(loaded.object.lookup('drops', u32(0))!),
    recordType: loaded.object.enumValues('ks_record_type')[RECORD.type],
  };
}

/** What every record must be, whatever the scheduler did: the records that are not. */
function misfits(traced: Traced, minLatencyNs: number): DecodedRecord[] {
  return traced.records.filter(
    (r) =>
      r['hdr.type'] !== traced.recordType ||
      r['hdr.version'] !== RECORD.version ||
      r.comm !== traced.workers.get(r.tgid as number) ||
      r.pid !== r.tgid || // single-threaded
      r['hdr.cpu'] !== 0 || // the switch runs on the CPU the waiter gets: they are pinned to CPU 0
      r['hdr.pid'] !== r.prev_pid || // hdr is the current task: the one leaving the CPU
      r.prev_pid === r.pid ||
      !((r.latency_ns as number) > 0 && (r.latency_ns as number) >= minLatencyNs),
  );
}

void t.test('every observed wait is one record naming the worker, the wait and the task it replaced', async (t) => {
  const traced = await traceWorkers(t, () => ({ minLatencyNs: 0, skipTgid: 0 }));
  const { records } = traced;
  t.not(traced.recordType, undefined, `${RECORD.type} is in the object's enum ks_record_type`);
  t.ok(records.length > 0, `the workers waited (${records.length} records)`);
  t.same(misfits(traced, 0), [], 'every record: a worker under its name, on CPU 0, replacing another task');
  t.equal(records.length, traced.histogram.count, 'as many records as histogram observations');
  t.equal(traced.drops, 0, 'nothing lost');
  const replacedWorker = records.filter((r) => r.prev_comm === traced.workers.get(r.prev_pid as number));
  t.ok(replacedWorker.length > 0, `${replacedWorker.length} waits ended by replacing another worker`);
  const first = records[0];
  t.same(
    Object.fromEntries(TRACE.columns.map((c) => [c.name, c.value(first)])),
    {
      tid: first.pid,
      latency_ms: Math.round((first.latency_ns as number) / 1e3) / 1e3,
      prev_comm: first.prev_comm,
      prev_pid: first.prev_pid,
    },
    'the columns read the record',
  );
  t.equal(first[TRACE.pidField!], first.tgid, 'the pid column is the process that waited');
});

void t.test('a minimum latency on a slot edge: exactly the observations in the slots above it', async (t) => {
  const traced = await traceWorkers(t, () => ({ minLatencyNs: MIN_LATENCY_NS, skipTgid: 0 }));
  const edge = RUNQUEUE_LATENCY_BOUNDS.indexOf(MIN_LATENCY_EDGE_S);
  t.not(edge, -1, 'the edge is a bucket bound');
  // Buckets up to that bound hold the waits below the minimum (slots are upper-inclusive: bpf/histogram.h).
  const below = traced.histogram.counts.slice(0, edge + 1).reduce((sum, n) => sum + n, 0);
  const atOrAbove = traced.histogram.count - below;
  // Both sides observed, or the comparison could not tell a working minimum from none.
  t.ok(below > 0, `${below} waits were shorter than ${MIN_LATENCY_NS} ns`);
  t.ok(atOrAbove > 0, `${atOrAbove} waits lasted at least ${MIN_LATENCY_NS} ns`);
  t.equal(traced.records.length, atOrAbove, 'one record per wait at or above the minimum');
  t.same(misfits(traced, MIN_LATENCY_NS), [], 'every record: a worker, on CPU 0, at least the minimum');
  t.equal(traced.drops, 0, 'nothing lost');
});

void t.test('the tracer skips its own process; with trace off there are no records', async (t) => {
  const skipping = await traceWorkers(t, ([first]) => ({ minLatencyNs: 0, skipTgid: first }));
  const [skipped, ...kept] = skipping.workers.keys();
  t.ok(skipping.records.length > 0, 'the other workers have records');
  t.same(
    skipping.records.filter((r) => !kept.includes(r.tgid as number)),
    [],
    `no record of the skipped process ${skipped}`,
  );
  t.equal(skipping.records.length, skipping.histogram.count, 'nor is it in the histogram');

  const off = await traceWorkers(t, () => undefined);
  t.ok(off.histogram.count > 0, `the workers waited (${off.histogram.count} observations)`);
  t.equal(off.records.length, 0, 'trace off: no record');
  t.equal(skipping.drops + off.drops, 0, 'nothing lost');
});
