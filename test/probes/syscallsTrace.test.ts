// `kernscope trace syscalls`: with trace records on, every syscall of the
// filtered process that the probe counts is also one ring record (sent by the
// same sys_exit run that counts it), naming the syscall, its return value and
// its latency. A known workload (N getppid calls, M closes of a bad fd) through
// every attach variant: exactly N getppid records returning our pid (the
// workload's parent), M close records failing with EBADF; none under a
// minimum latency no call reaches, none with trace records off.
import { readFileSync } from 'node:fs';
import os from 'node:os';

import t from 'tap';

import { mapFamilies } from '../../src/aggregate/MapMetrics';
import type { Sample } from '../../src/aggregate/MetricFamily';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { RingDrain } from '../../src/drain/RingDrain';
import { ensureTracefs } from '../../src/kernel/tracefs';
import type { LoadSettings } from '../../src/load/ProbeLoader';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import type { AttachKind } from '../../src/native/addon';
import { addon } from '../../src/native/addon';
import { syscallsProbe } from '../../src/probes/syscalls';
import { sumU64, u32 } from '../helpers/bytes';
import type { DecodedRecord } from '../helpers/recordCollector';
import { RecordCollector } from '../helpers/recordCollector';
import { syscallWorkload } from '../helpers/syscallWorkload';
import type { HasTeardown } from '../helpers/teardown';

const CALLS = 3000;
const FAILURES = 11;
const KINDS: AttachKind[] = ['tp_btf', 'raw_tp', 'tracepoint'];
/** Every record of the workload fits: about 80 bytes each with the ring's own header. */
const RING_BYTES = 1 << 20;
const TRACE = syscallsProbe.trace!;
const RECORD = syscallsProbe.record!;
const EBADF = os.constants.errno.EBADF;

const tracefsNote = ensureTracefs();

interface Traced {
  pid: number;
  comm: string;
  records: DecodedRecord[];
  /** kernscope_syscalls_total by syscall name, every cgroup summed. */
  counts: Map<string, number>;
  drops: number;
  /** enum ks_record_type's value for the trace record, from the object's BTF. */
  recordType: number | undefined;
}

/** Runs the workload under the syscalls probe as `kind`, filtered to its pid, with these trace settings. */
async function traceWorkload(t: HasTeardown, kind: AttachKind, trace: LoadSettings['trace']): Promise<Traced> {
  const workload = await syscallWorkload(t, { getppid: CALLS, badCloses: FAILURES });
  // The kinds preferred over this one are made to look unavailable.
  const features = addon.kernelFeatures();
  for (const other of KINDS.slice(0, KINDS.indexOf(kind))) {
    features.attach[other] = { ok: false, reason: 'skipped by this test' };
  }
  const loaded = new ProbeLoader(features).load(syscallsProbe, {
    ringBytes: RING_BYTES,
    wakeupBytes: RING_BYTES,
    tgid: workload.pid,
    trace,
  });
  const collector = new RecordCollector();
  const drain = new RingDrain(loaded.object, collector.sink, { intervalMs: 1000 });
  t.teardown(() => {
    drain.stop();
    loaded.object.close();
  });
  if (loaded.chosen.some((c) => c.variant.kind !== kind)) throw new Error(`not every attach point as ${kind}`);

  await workload.run();
  drain.drain();
  const layout = RecordLayout.fromObject(loaded.object, RECORD.struct);
  const [calls] = mapFamilies(loaded.object, syscallsProbe.mapMetrics, {
    limits: { maxSeries: 1000, ttlMs: 0 },
  }).filter((f) => f.name === 'kernscope_syscalls_total');
  const counts = new Map<string, number>();
  for (const { labels, value } of calls.collect() as Sample[]) {
    counts.set(labels.syscall, (counts.get(labels.syscall) ?? 0) + value);
  }
  return {
    pid: workload.pid,
    comm: readFileSync(`/proc/${workload.pid}/comm`, 'utf8').trim(),
    records: collector.decoded(layout),
    counts,
    drops: sumU64(loaded.object.lookup('drops', u32(0))!),
    recordType: loaded.object.enumValues('ks_record_type')[RECORD.type],
  };
}

/** The trace command's columns of `record`, by JSON name. */
function columnsOf(record: DecodedRecord): Record<string, string | number> {
  return Object.fromEntries(TRACE.columns.map((column) => [column.name, column.value(record)]));
}

for (const kind of KINDS) {
  const skip = kind === 'tracepoint' && tracefsNote ? tracefsNote : false;

  void t.test(`${kind}: one record per counted call, with its return value and latency`, { skip }, async (t) => {
    const traced = await traceWorkload(t, kind, { minLatencyNs: 0, skipTgid: 0 });
    const { records } = traced;
    t.not(traced.recordType, undefined, `${RECORD.type} is in the object's enum ks_record_type`);
    t.same(
      records.filter(
        (r) =>
          r['hdr.type'] !== traced.recordType ||
          r['hdr.version'] !== RECORD.version ||
          r['hdr.tgid'] !== traced.pid ||
          r['hdr.pid'] !== traced.pid ||
          r.comm !== traced.comm ||
          !((r.latency_ns as number) > 0),
      ),
      [],
      `every record: type and version, the workload's thread (${traced.pid}) and comm (${traced.comm}), a latency`,
    );

    const named = (syscall: string): DecodedRecord[] => records.filter((r) => columnsOf(r).syscall === syscall);
    const getppid = named('getppid');
    t.equal(getppid.length, CALLS, 'one record per getppid call');
    t.same(
      getppid.filter((r) => r.ret !== process.pid),
      [],
      `every getppid returned our pid (${process.pid}), the workload's parent`,
    );
    const closes = named('close');
    t.equal(closes.length, FAILURES, 'one record per close');
    t.same(
      closes.filter((r) => r.ret !== -EBADF),
      [],
      `every close returned -EBADF (-${EBADF})`,
    );
    t.same(
      columnsOf(closes[0]),
      {
        syscall: 'close',
        ret: -EBADF,
        errno: 'EBADF',
        latency_ms: Math.round((closes[0].latency_ns as number) / 1e3) / 1e3,
      },
      'the columns of a failed call name its errno',
    );
    t.same(
      columnsOf(getppid[0]),
      {
        syscall: 'getppid',
        ret: process.pid,
        errno: '',
        latency_ms: Math.round((getppid[0].latency_ns as number) / 1e3) / 1e3,
      },
      'the columns of a successful call have no errno',
    );

    // The same sys_exit runs count and send: per syscall, records and counts agree, except the
    // workload's read of its gate, in flight when the probe attached: counted, but with no start to time.
    const recorded = new Map<string, number>([['read', 1]]);
    for (const r of records) {
      const syscall = columnsOf(r).syscall as string;
      recorded.set(syscall, (recorded.get(syscall) ?? 0) + 1);
    }
    t.same(
      Object.fromEntries(recorded),
      Object.fromEntries(traced.counts),
      'records per syscall equal its count, and the read in flight at attach is counted',
    );
    t.equal(traced.drops, 0, 'nothing lost');
  });

  void t.test(`${kind}: no records under the minimum latency, none with trace off`, { skip }, async (t) => {
    const slow = await traceWorkload(t, kind, { minLatencyNs: 10e9, skipTgid: 0 });
    t.equal(slow.records.length, 0, 'no call took 10 s: no record');
    t.equal(slow.counts.get('getppid'), CALLS, 'the calls were counted');

    const off = await traceWorkload(t, kind, undefined);
    t.equal(off.records.length, 0, 'trace off: no record');
    t.equal(off.counts.get('getppid'), CALLS, 'the calls were counted');
    t.equal(off.drops + slow.drops, 0, 'nothing lost');
  });
}
