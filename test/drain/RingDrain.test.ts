// RingDrain over a real ring: every record once, in order, including records
// that straddle the end of the ring (the consumer position wraps many times).
import t from 'tap';

import type { RecordSink } from '../../src/drain/RecordLoop';
import { callbackSink } from '../../src/drain/RecordLoop';
import { RingDrain } from '../../src/drain/RingDrain';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { readField } from '../../src/decode/readField';
import type { NativeBpfObject } from '../../src/native/addon';
import { addon } from '../../src/native/addon';
import { sumU64, u32, u64 } from '../helpers/bytes';
import { LOADGEN_OBJECT } from '../helpers/paths';
import type { HasTeardown } from '../helpers/teardown';
import { sleep } from '../helpers/teardown';

const NEVER_WAKE = u64(2n ** 64n - 1n);

function loadgen(t: HasTeardown, ringBytes: number): NativeBpfObject {
  const object = new addon.BpfObject(LOADGEN_OBJECT, 'loadgen');
  t.teardown(() => object.close());
  object.setMaxEntries('events', ringBytes);
  object.setConstant('wakeup_bytes', NEVER_WAKE);
  object.setConstant('loadgen_comms', u32(16));
  object.load();
  return object;
}

const letter = (i: number): string => `loadgen-${String.fromCharCode(97 + (i % 16))}`;

interface Seen {
  comm: string;
  ts: number;
  length: number;
}

function recordingSink(layout: RecordLayout, seen: Seen[]): RecordSink {
  const comm = layout.field('comm');
  const ts = layout.field('hdr.ts_ns');
  return callbackSink((view, _words, offset, length) => {
    seen.push({ comm: readField(view, offset, comm) as string, ts: readField(view, offset, ts) as number, length });
  });
}

void t.test('records across the ring end: 60 rounds in a one-page ring', (t) => {
  // 15 records of 192 bytes (184 + 8 header) per round; 4096 is not a multiple
  // of 192, so records keep landing across the end of the ring.
  const PER_ROUND = 15;
  const ROUNDS = 60;
  const object = loadgen(t, 4096);
  const layout = RecordLayout.fromObject(object, 'exec_record');
  const seen: Seen[] = [];
  const drain = new RingDrain(object, recordingSink(layout, seen), { intervalMs: 1000 });

  const wrong: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    seen.length = 0;
    object.testRun('loadgen', [PER_ROUND]);
    const drained = drain.drain();
    const comms = seen.map((r) => r.comm);
    const expected = Array.from({ length: PER_ROUND }, (_, i) => letter(i));
    if (drained !== PER_ROUND || JSON.stringify(comms) !== JSON.stringify(expected)) {
      wrong.push(`round ${round}: drained ${drained}: ${comms.join(' ')}`);
    }
    if (!seen.every((r) => r.length === layout.size))
      wrong.push(`round ${round}: lengths ${seen.map((r) => r.length).join(',')}`);
    if (!seen.every((r, i) => i === 0 || r.ts >= seen[i - 1].ts)) wrong.push(`round ${round}: time went backwards`);
  }
  t.same(wrong, [], 'every round: 15 records, a..o in order, full length, time ordered');
  t.equal(drain.records, PER_ROUND * ROUNDS, 'records counted');
  t.equal(sumU64(object.lookup('drops', new Uint8Array(4))!), 0, 'nothing dropped');
  t.ok(PER_ROUND * ROUNDS * 192 > 4096 * 10, 'the consumer position wrapped at least 10 times');
  t.equal(drain.drain(), 0, 'empty afterwards');
  t.end();
});

void t.test('a full ring drains completely, in order', (t) => {
  const COUNT = 300; // 300 * 192 bytes fit in 64 KiB
  const object = loadgen(t, 64 * 1024);
  const layout = RecordLayout.fromObject(object, 'exec_record');
  const seen: Seen[] = [];
  const drain = new RingDrain(object, recordingSink(layout, seen), { intervalMs: 1000 });
  t.equal(object.testRun('loadgen', [COUNT]), 0);
  t.equal(sumU64(object.lookup('drops', new Uint8Array(4))!), 0, 'nothing dropped');
  t.equal(drain.drain(), COUNT, 'drained every record');
  t.same(
    seen.map((r) => r.comm),
    Array.from({ length: COUNT }, (_, i) => letter(i)),
    'comm cycles a..p in emit order: nothing lost, repeated or reordered',
  );
  t.equal(drain.drain(), 0, 'empty afterwards');
  t.end();
});

/** A RingDrain into a sink that does nothing; `drain.records` counts what it handed over. */
const countingDrain = (object: NativeBpfObject, intervalMs: number): RingDrain =>
  new RingDrain(
    object,
    callbackSink(() => undefined),
    { intervalMs },
  );

/** countingDrain, started (readiness and the timer), stopped when the test ends. */
function startedDrain(t: HasTeardown, object: NativeBpfObject, intervalMs: number) {
  const drain = countingDrain(object, intervalMs);
  drain.start();
  t.teardown(() => drain.stop());
  return drain;
}

/** Waits up to 2 s for the drain to have handed over `records` in all. */
async function handedOver(drain: RingDrain, records: number): Promise<void> {
  const deadline = Date.now() + 2000;
  while (drain.records < records && Date.now() < deadline) await sleep(5);
}

void t.test('stop() drains what is waiting, then the reader is closed', (t) => {
  const object = loadgen(t, 64 * 1024);
  const drain = countingDrain(object, 1000);
  object.testRun('loadgen', [50]);
  drain.stop();
  t.equal(drain.records, 50, 'the last drain in stop() handed over every waiting record');
  t.throws(() => drain.drain(), TypeError, 'draining a stopped RingDrain throws');
  t.end();
});

void t.test('start(): the timer drains without being asked', async (t) => {
  const object = loadgen(t, 64 * 1024);
  const drain = startedDrain(t, object, 10);
  object.testRun('loadgen', [40]);
  await handedOver(drain, 40);
  t.equal(drain.records, 40, 'drained within 2 s by the timer');
  t.ok(Date.now() - drain.lastDrainMs < 1000, 'lastDrainMs is recent');
});

void t.test('start(): while the ring is empty the timer calls no JS', async (t) => {
  const object = loadgen(t, 64 * 1024);
  const drain = startedDrain(t, object, 10);
  await sleep(300);
  t.equal(drain.lastDrainMs, 0, '30 timer ticks, no drain');
  t.notOk(drain.pending, 'nothing pending');
  object.testRun('loadgen', [5]);
  t.ok(drain.pending, 'records pending');
  await handedOver(drain, 5);
  t.equal(drain.records, 5, 'the next tick drained them');
  t.notOk(drain.pending, 'nothing pending after');
});

void t.test('start(): a kernel wakeup drains without the timer', async (t) => {
  const object = new addon.BpfObject(LOADGEN_OBJECT, 'loadgen');
  t.teardown(() => object.close());
  object.setMaxEntries('events', 64 * 1024);
  object.setConstant('wakeup_bytes', u64(1)); // a wakeup per record
  object.load();
  // The timer alone would take a minute: only readiness can drain in time.
  const drain = startedDrain(t, object, 60000);
  for (let round = 1; round <= 3; round++) {
    object.testRun('loadgen', [25]);
    await handedOver(drain, 25 * round);
    t.equal(drain.records, 25 * round, `round ${round}: drained on readiness`);
  }
  t.ok(drain.wakeups >= 3 && drain.wakeups <= drain.records, `one wakeup per burst or more (${drain.wakeups})`);
  // After the last drain the ring is empty: no further callbacks arrive.
  const settled = drain.wakeups;
  await sleep(50);
  t.equal(drain.wakeups, settled, 'quiet ring: no more wakeups');
});
