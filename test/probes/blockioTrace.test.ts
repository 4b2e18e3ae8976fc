// The blockio probe's trace records (`kernscope trace blockio`), through each
// attach variant: direct writes of a known size to a fresh loop device that
// nothing else touches, and a flush, from a dd whose pid is known, must each
// send one record (disk, op, sector, size, latency, and the issuing task)
// while the loader turns tracing on; none with tracing off, as the agent runs
// it, and none when every request is faster than the minimum latency.
import t from 'tap';

import { mapFamilies } from '../../src/aggregate/MapMetrics';
import type { HistogramFamily } from '../../src/aggregate/MetricFamily';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { RingDrain } from '../../src/drain/RingDrain';
import { ensureTracefs } from '../../src/kernel/tracefs';
import type { LoadSettings } from '../../src/load/ProbeLoader';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import type { AttachKind } from '../../src/native/addon';
import { kernelDev } from '../../src/probes/blockDevices';
import { blockioProbe } from '../../src/probes/blockio';
import { toEvent } from '../../src/trace/TraceFormat';
import { sumU64, u32 } from '../helpers/bytes';
import type { LoopDevice } from '../helpers/loopDevice';
import { featuresFrom } from '../helpers/features';
import { createLoopDevice } from '../helpers/loopDevice';
import { run } from '../helpers/process';
import { RecordCollector } from '../helpers/recordCollector';
import type { HasTeardown } from '../helpers/teardown';

const WRITES = 20;
const SIZE = 64 * 1024;
const SECTOR_BYTES = 512;
const TEN_SECONDS_NS = 10e9;
const KINDS: AttachKind[] = ['tp_btf', 'raw_tp', 'tracepoint'];

// Classic tracepoints need tracefs (the trace command mounts it the same way).
const tracefsNote = ensureTracefs();

/** The probe as `kind`, its ring collected (drained on demand); `trace` as the trace command sets it. */
function load(t: HasTeardown, kind: AttachKind, trace: LoadSettings['trace']) {
  const loaded = new ProbeLoader(featuresFrom(kind)).load(blockioProbe, {
    ringBytes: 1 << 20,
    wakeupBytes: 1 << 20,
    trace,
  });
  const records = new RecordCollector();
  const drain = new RingDrain(loaded.object, records.sink, { intervalMs: 1000 });
  t.teardown(() => {
    drain.stop();
    loaded.object.close();
  });
  const layout = RecordLayout.fromObject(loaded.object, blockioProbe.record!.struct);
  const [latency] = mapFamilies(loaded.object, blockioProbe.mapMetrics, { limits: { maxSeries: 100, ttlMs: 0 } }) as [
    HistogramFamily,
  ];
  return {
    kinds: loaded.chosen.map((c) => c.variant.kind),
    /** Every record so far, decoded. */
    records: () => {
      drain.drain();
      return records.decoded(layout);
    },
    /** Requests the kernel-side metrics counted on `loop`, by op. */
    counted: (loop: LoopDevice) =>
      Object.fromEntries(
        latency
          .collect()
          .filter((s) => s.labels.device === loop.name)
          .map((s) => [s.labels.op, s.count]),
      ),
    drops: () => sumU64(loaded.object.lookup('drops', u32(0))!),
    recordType: loaded.object.enumValues('ks_record_type')[blockioProbe.record!.type],
  };
}

/**
 * WRITES direct writes of SIZE from the start of `loop` by one dd, then its
 * fsync (one flush: the loop device has a write cache); returns dd's pid (sh
 * execs dd). dd waits for each request, so they complete in this order.
 */
async function writeDirect(loop: LoopDevice): Promise<number> {
  const dd = await run('/bin/sh', [
    '-c',
    `echo $$ && exec dd if=/dev/zero of=${loop.path} bs=${SIZE} count=${WRITES} oflag=direct conv=notrunc,fsync status=none`,
  ]);
  if (dd.code !== 0 || dd.stderr !== '') throw new Error(`dd failed (${dd.code}): ${dd.stderr}`);
  // Every request has completed: its record is in the ring by now.
  return Number(dd.stdout.trim());
}

const COUNTED = { write: WRITES, flush: 1 };

for (const kind of KINDS) {
  const skip = kind === 'tracepoint' && tracefsNote ? tracefsNote : false;

  void t.test(`${kind}: one record per request, naming the task that issued it`, { skip }, async (t) => {
    const loop = await createLoopDevice(t);
    const probe = load(t, kind, { minLatencyNs: 0, skipTgid: 0 });
    t.same(probe.kinds, [kind, kind], `both attach points as ${kind}`);
    const dd = await writeDirect(loop);

    const dev = kernelDev(loop.major, loop.minor);
    const onLoop = probe.records().filter((r) => r.dev === dev);
    t.same(
      onLoop.map((r) => [r['hdr.type'], r['hdr.version']]),
      onLoop.map(() => [probe.recordType, 1]),
      'KS_RECORD_BLOCKIO headers, layout version 1',
    );
    const events = onLoop.map((r) => toEvent('blockio', blockioProbe.trace!, r, 0));
    t.same(
      events.map(({ fields: { disk, op, sector, bytes } }) => ({ disk, op, sector, bytes })),
      [
        ...Array.from({ length: WRITES }, (_, i) => ({
          disk: loop.name,
          op: 'write',
          sector: (i * SIZE) / SECTOR_BYTES,
          bytes: SIZE,
        })),
        // A flush has no position: sector 0 from every variant, as the classic tracepoint reports it.
        { disk: loop.name, op: 'flush', sector: 0, bytes: 0 },
      ],
      `${WRITES} writes at consecutive sectors, then the flush`,
    );
    t.ok(
      onLoop.every((r) => (r.latency_ns as number) > 0),
      'every latency is positive',
    );
    t.same(
      events.map((e) => e.fields.latency_ms),
      onLoop.map((r) => Math.round((r.latency_ns as number) / 1e3) / 1e3),
      'latency_ms: latency_ns in ms, to the microsecond',
    );
    // The loop driver's queue_rq runs in the submitter, so dd issues its writes itself;
    // blk-flush hands a flush to kblockd (the requeue list), whose worker issues it.
    t.same(
      events.slice(0, WRITES).map((e) => `${e.pid} ${e.comm}`),
      Array.from({ length: WRITES }, () => `${dd} dd`),
      'dd issued every write',
    );
    t.match(events[WRITES], { comm: /^kworker\//, pid: Number }, 'a kblockd worker issued the flush');
    t.not(events[WRITES]?.pid, dd, 'not dd');
    t.same(probe.counted(loop), COUNTED, 'the metrics count the same requests');
    t.equal(probe.drops(), 0, 'nothing lost');
  });

  void t.test(`${kind}: tracing off (the agent): no record at all`, { skip }, async (t) => {
    const loop = await createLoopDevice(t);
    const probe = load(t, kind, undefined);
    t.same(probe.kinds, [kind, kind], `both attach points as ${kind}`);
    await writeDirect(loop);
    t.same(probe.counted(loop), COUNTED, 'the requests are counted');
    t.same(probe.records(), [], 'no record from any disk');
  });

  void t.test(`${kind}: minimum latency of 10 s: no record of the fast requests`, { skip }, async (t) => {
    const loop = await createLoopDevice(t);
    const probe = load(t, kind, { minLatencyNs: TEN_SECONDS_NS, skipTgid: 0 });
    t.same(probe.kinds, [kind, kind], `both attach points as ${kind}`);
    await writeDirect(loop);
    const dev = kernelDev(loop.major, loop.minor);
    t.same(probe.counted(loop), COUNTED, 'the requests are counted');
    t.same(
      probe.records().filter((r) => r.dev === dev),
      [],
      `no record on ${loop.name}`,
    );
  });
}
