// Lost events are counted exactly: with a stalled consumer and a ring far too
// small, every record the BPF side tried to emit is either drained or counted
// in the per-CPU `drops` map, never neither.
import t from 'tap';

import { lostEventsOf } from '../../src/load/lostEvents';
import { ProbeAggregator } from '../../src/aggregate/ProbeAggregator';
import { ResolvedRecord } from '../../src/decode/ResolvedRecord';
import { RingDrain } from '../../src/drain/RingDrain';
import { addon } from '../../src/native/addon';
import { execProbe } from '../../src/probes/exec';
import { sumU64, u64 } from '../helpers/bytes';
import { LOADGEN_OBJECT } from '../helpers/paths';

const RING_BYTES = 4096;
const RECORD_BYTES = 184; // sizeof(struct exec_record)
const RINGBUF_HEADER = 8; // BPF_RINGBUF_HDR_SZ, per record in the ring
const N = 1000;

void t.test('consumed + lost == emitted, exactly, and accumulates', (t) => {
  const object = new addon.BpfObject(LOADGEN_OBJECT, 'loadgen');
  t.teardown(() => object.close());
  object.setMaxEntries('events', RING_BYTES);
  object.setConstant('wakeup_bytes', u64(2n ** 64n - 1n)); // never wake: the consumer is stalled anyway
  object.load();

  const record = ResolvedRecord.resolve(object, 'loadgen', execProbe.record);
  t.equal(record.type, 1, 'KS_RECORD_EXEC read from BTF');
  const aggregator = new ProbeAggregator(execProbe, record, { limits: { maxSeries: 100, ttlMs: 0 } });
  const drain = new RingDrain(object, aggregator, { intervalMs: 1000 });
  const counter = aggregator.counters[0];

  const dropsMap = (): number => sumU64(object.lookup('drops', new Uint8Array(4))!);
  const counted = (): number => counter.collect().reduce((sum, s) => sum + s.value, 0);

  let consumedTotal = 0;
  let lostBefore = 0;
  for (let round = 1; round <= 2; round++) {
    t.equal(object.testRun('loadgen', [N]), 0, `round ${round}: loadgen ran`);
    const consumed = drain.drain();
    consumedTotal += consumed;
    const lost = dropsMap();

    t.equal(
      consumedTotal + lost,
      round * N,
      `round ${round}: consumed ${consumedTotal} + lost ${lost} == ${round * N}`,
    );
    t.ok(consumed > 0, `round ${round}: some records were drained (${consumed})`);
    t.ok(consumed <= RING_BYTES / (RECORD_BYTES + RINGBUF_HEADER), `round ${round}: no more than the ring holds`);
    t.ok(lost > lostBefore, `round ${round}: the small ring lost records (${lost - lostBefore})`);
    lostBefore = lost;
    t.equal(lostEventsOf(object), lost, `round ${round}: lostEventsOf (self metrics, trace) agrees with the drops map`);
    t.equal(drain.records, consumedTotal, `round ${round}: RingDrain.records accumulates`);
    t.equal(aggregator.invalid, 0, `round ${round}: every record passed the header check`);
    t.equal(counted(), consumedTotal, `round ${round}: the counter saw every drained record`);
    t.equal(drain.drain(), 0, `round ${round}: ring is empty after the drain`);
  }
  t.ok(
    counter.collect().every((s) => /^loadgen-[a-p]$/.test(s.labels.comm ?? '')),
    'comm labels decode as loadgen-<letter>',
  );
  t.end();
});
