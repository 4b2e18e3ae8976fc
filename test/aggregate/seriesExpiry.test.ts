// Idle-series expiry in RecordCounter: a series whose value did not change
// for the TTL (as seen by collections) is dropped and its table slot freed,
// so new label sets fit under the cap again. A fake clock drives the TTL.
import t from 'tap';

import { RecordCounter } from '../../src/aggregate/RecordCounter';
import { OVERFLOW_LABEL_VALUE } from '../../src/aggregate/SeriesPolicy';
import { countRecords } from '../helpers/drainRecords';
import { cString, garbage, handExecLayout, writeFields } from '../helpers/records';

const layout = handExecLayout();
const comm = layout.field('comm');

/** One exec record per name, laid out like a drained batch; returns a function counting `times` records of a name. */
function records(names: string[]): (counter: RecordCounter, name: string, times?: number) => void {
  const stride = 8 + layout.size;
  const bytes = garbage(stride * names.length + 8, 0x5a);
  const at = new Map<string, number>();
  names.forEach((name, i) => {
    writeFields(bytes, 8 + i * stride, layout, { comm: cString(name, 16) });
    at.set(name, 8 + i * stride);
  });
  const view = new DataView(bytes.buffer);
  return (counter, name, times = 1) => countRecords(counter, view, Array<number>(times).fill(at.get(name)!));
}

function values(counter: RecordCounter): Record<string, number> {
  return Object.fromEntries(counter.collect().map((s) => [s.labels.comm, s.value]));
}

class FakeClock {
  ms = 1_000_000;
  readonly now = (): number => this.ms;
}

void t.test('a series unchanged for the TTL is dropped at collection; a changing one stays', (t) => {
  const clock = new FakeClock();
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], {
    maxSeries: 100,
    ttlMs: 60000,
    now: clock.now,
  });
  const add = records(['idle', 'busy']);
  add(counter, 'idle');
  add(counter, 'busy');
  t.same(values(counter), { idle: 1, busy: 1 }, 'first collection sees both');

  clock.ms += 59999;
  add(counter, 'busy');
  t.same(values(counter), { idle: 1, busy: 2 }, 'one ms before the TTL: still there');

  clock.ms += 1;
  add(counter, 'busy');
  t.same(values(counter), { busy: 3 }, 'at the TTL: the idle series is gone');
  t.equal(counter.seriesCount, 1, 'and its slot is free');
  t.equal(counter.policy.expiredCount, 1);

  add(counter, 'idle', 5);
  t.same(values(counter), { busy: 3, idle: 5 }, 'a series that comes back starts from zero');
  t.end();
});

void t.test('idle means unchanged between collections, however long nobody collects', (t) => {
  const clock = new FakeClock();
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], {
    maxSeries: 100,
    ttlMs: 1000,
    now: clock.now,
  });
  const add = records(['a']);
  add(counter, 'a');
  t.same(values(counter), { a: 1 });
  clock.ms += 3_600_000;
  add(counter, 'a');
  t.same(values(counter), { a: 2 }, 'changed since the last collection: kept, however late that is');
  clock.ms += 1000;
  t.same(values(counter), {}, 'then unchanged for the TTL: dropped');
  t.end();
});

void t.test('expiry frees room under the cap; overflow expires too', (t) => {
  const clock = new FakeClock();
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], {
    maxSeries: 2,
    ttlMs: 1000,
    now: clock.now,
  });
  const add = records(['a', 'b', 'c', 'd']);
  for (const name of ['a', 'b', 'c']) add(counter, name);
  t.same(values(counter), { a: 1, b: 1, [OVERFLOW_LABEL_VALUE]: 1 }, 'c overflows the cap of 2');

  clock.ms += 500;
  add(counter, 'b');
  t.same(values(counter), { a: 1, b: 2, [OVERFLOW_LABEL_VALUE]: 1 });
  clock.ms += 500;
  t.same(values(counter), { b: 2 }, 'a and the overflow series idle for the TTL: dropped');
  t.equal(counter.policy.expiredCount, 2, 'a and __overflow__');

  add(counter, 'd');
  add(counter, 'd');
  add(counter, 'c');
  t.same(
    values(counter),
    { b: 2, d: 2, [OVERFLOW_LABEL_VALUE]: 1 },
    'd takes the freed place; c overflows again from 0',
  );
  t.equal(counter.seriesCount, 2);
  t.end();
});

void t.test('compaction keeps every live series and its label cache intact', (t) => {
  const clock = new FakeClock();
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], {
    maxSeries: 10000,
    ttlMs: 1000,
    now: clock.now,
  });
  const names = Array.from({ length: 300 }, (_, i) => `c${i}`);
  const add = records(names);
  for (const name of names) add(counter, name);
  t.equal(Object.keys(values(counter)).length, 300);
  clock.ms += 1000;
  // Even-numbered series move, odd ones are idle.
  names.forEach((name, i) => i % 2 === 0 && add(counter, name, i + 1));
  const after = values(counter);
  t.equal(Object.keys(after).length, 150, 'the 150 idle series dropped');
  t.ok(
    names.every((name, i) => (i % 2 === 0 ? after[name] === i + 2 : !(name in after))),
    'every live series keeps its value',
  );
  // The compacted table still finds existing series and interns new ones.
  for (const name of names) add(counter, name);
  const again = values(counter);
  t.equal(Object.keys(again).length, 300);
  t.ok(
    names.every((name, i) => again[name] === (i % 2 === 0 ? i + 3 : 1)),
    'live series continue, dropped ones restart',
  );
  t.end();
});

void t.test('TTL 0 keeps every series', (t) => {
  const clock = new FakeClock();
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], {
    maxSeries: 100,
    ttlMs: 0,
    now: clock.now,
  });
  const add = records(['a']);
  add(counter, 'a');
  values(counter);
  clock.ms += 1e9;
  t.same(values(counter), { a: 1 });
  t.end();
});
