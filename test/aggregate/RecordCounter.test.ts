// RecordCounter on hand-made record bytes: label keys, the series cap.
import t from 'tap';

import type { Field } from '../../src/decode/RecordLayout';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { RecordCounter } from '../../src/aggregate/RecordCounter';
import { OVERFLOW_LABEL_VALUE } from '../../src/aggregate/SeriesPolicy';
import { countRecords } from '../helpers/drainRecords';
import { cString, garbage, handExecLayout, writeFields } from '../helpers/records';

const layout = handExecLayout();
const comm = layout.field('comm');

/** A batch of exec records with the given comm fields (raw 16 bytes each), 8 bytes apart like a drained batch. */
function batch(comms: Uint8Array[], extra: Record<string, number>[] = []): { view: DataView; offsets: number[] } {
  const stride = 8 + layout.size;
  const bytes = garbage(stride * comms.length + 8, 0x77);
  const offsets = comms.map((c, i) => {
    const at = 8 + i * stride;
    writeFields(bytes, at, layout, { comm: c, ...(extra[i] ?? {}) });
    return at;
  });
  return { view: new DataView(bytes.buffer), offsets };
}

function collectMap(counter: RecordCounter, label = 'comm'): Record<string, number> {
  return Object.fromEntries(counter.collect().map((s) => [s.labels[label], s.value]));
}

void t.test('bytes after the NUL do not split a series', (t) => {
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], { maxSeries: 100, ttlMs: 0 });
  const { view, offsets } = batch([
    cString('bash', 16, 'AAAAAAAAAAAA'),
    cString('bash', 16, 'BBBBBBBBBBBB'),
    cString('bash', 16, ''),
    cString('bash', 16, '\u0001\u0002\u0003'),
    cString('bas', 16, 'hZZZ'), // differs inside the first word: another series
    cString('0123456789abcdef', 16), // 16 chars, no NUL at all
    cString('0123456789abcde', 16, 'Q'), // 15 chars, NUL in the last byte
  ]);
  countRecords(counter, view, offsets);
  t.same(collectMap(counter), { bash: 4, bas: 1, '0123456789abcdef': 1, '0123456789abcde': 1 });
  t.equal(counter.seriesCount, 4);
  t.equal(counter.policy.overflowCount, 0);
  t.end();
});

void t.test('the word boundary: NUL at each byte of a word', (t) => {
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], { maxSeries: 100, ttlMs: 0 });
  const names = ['abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh'];
  const comms = names.flatMap((n) => [cString(n, 16, '1111111111'), cString(n, 16, '2222222222')]);
  const { view, offsets } = batch(comms);
  countRecords(counter, view, offsets);
  t.same(collectMap(counter), Object.fromEntries(names.map((n) => [n, 2])));
  t.end();
});

void t.test('series cap folds new label sets into __overflow__', (t) => {
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], { maxSeries: 2, ttlMs: 0 });
  const { view, offsets } = batch(['a', 'b', 'c', 'a', 'd', 'c', 'b'].map((n) => cString(n, 16)));
  countRecords(counter, view, offsets);
  t.equal(counter.seriesCount, 2, 'never more than the cap');
  t.equal(counter.policy.overflowCount, 3, 'c, d, c overflowed');
  t.same(collectMap(counter), { a: 2, b: 2, [OVERFLOW_LABEL_VALUE]: 3 }, 'existing series keep counting');
  t.equal(
    counter.collect().reduce((sum, s) => sum + s.value, 0),
    offsets.length,
    'nothing is lost: series + overflow == records',
  );
  t.end();
});

void t.test('every record adds one, overflow included', (t) => {
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], { maxSeries: 1, ttlMs: 0 });
  const { view, offsets } = batch(['a', 'b'].map((n) => cString(n, 16)));
  countRecords(counter, view, [...Array<number>(15).fill(offsets[0]), ...Array<number>(7).fill(offsets[1])]);
  t.same(collectMap(counter), { a: 15, [OVERFLOW_LABEL_VALUE]: 7 });
  t.equal(counter.policy.overflowCount, 7, 'overflowCount counts the records folded into __overflow__');
  t.end();
});

const MIXED: Field[] = [
  { name: 'name', offset: 0, size: 8, kind: 'string' },
  { name: 'u8', offset: 8, size: 1, kind: 'u8' },
  { name: 's8', offset: 9, size: 1, kind: 's8' },
  { name: 'u16', offset: 10, size: 2, kind: 'u16' },
  { name: 's16', offset: 12, size: 2, kind: 's16' },
  { name: 'u32', offset: 16, size: 4, kind: 'u32' },
  { name: 's32', offset: 20, size: 4, kind: 's32' },
];
const mixedLayout = new RecordLayout('mixed', 24, MIXED);

void t.test('integer and mixed labels', (t) => {
  const counter = new RecordCounter(
    'mixed',
    'help',
    [
      ...MIXED.map((field) => ({ label: field.name, field })),
      { label: 'hex', field: MIXED[5], format: (v: number) => `0x${v.toString(16)}` },
    ],
    { maxSeries: 10, ttlMs: 0 },
  );
  const bytes = new Uint8Array(48);
  writeFields(bytes, 0, mixedLayout, {
    name: cString('eight888', 8),
    u8: 255,
    s8: -1,
    u16: 65535,
    s16: -2,
    u32: 4294967295,
    s32: -3,
  });
  writeFields(bytes, 24, mixedLayout, { name: cString('ab', 8, 'JUNK'), u8: 1, s8: 1, u16: 1, s16: 1, u32: 1, s32: 1 });
  const view = new DataView(bytes.buffer);
  countRecords(counter, view, [0]);
  countRecords(counter, view, [24]);
  countRecords(counter, view, [0]);
  t.same(counter.collect(), [
    {
      labels: {
        name: 'eight888',
        u8: '255',
        s8: '-1',
        u16: '65535',
        s16: '-2',
        u32: '4294967295',
        s32: '-3',
        hex: '0xffffffff',
      },
      value: 2,
    },
    { labels: { name: 'ab', u8: '1', s8: '1', u16: '1', s16: '1', u32: '1', s32: '1', hex: '0x1' }, value: 1 },
  ]);
  t.end();
});

void t.test('a string label whose size is not a multiple of 4: counted right or refused', (t) => {
  // char name[6] followed by a u16: the key must not take the u16's bytes for the string's.
  const fields: Field[] = [
    { name: 'name', offset: 0, size: 6, kind: 'string' },
    { name: 'port', offset: 6, size: 2, kind: 'u16' },
  ];
  const layout = new RecordLayout('odd', 8, fields);
  let counter: RecordCounter;
  try {
    counter = new RecordCounter('odd', 'help', [{ label: 'name', field: fields[0] }], { maxSeries: 10, ttlMs: 0 });
  } catch (error) {
    t.match((error as Error).message, /name/, 'refused at construction, naming the label');
    t.end();
    return;
  }
  const bytes = new Uint8Array(24);
  writeFields(bytes, 0, layout, { name: cString('sixsix', 6), port: 1 });
  writeFields(bytes, 8, layout, { name: cString('sixsix', 6), port: 2 });
  writeFields(bytes, 16, layout, { name: cString('ab', 6, 'JUNK'), port: 3 });
  const view = new DataView(bytes.buffer);
  for (const offset of [0, 8, 16]) countRecords(counter, view, [offset]);
  t.same(collectMap(counter, 'name'), { sixsix: 2, ab: 1 }, 'bytes past the field do not split or rename series');
  t.end();
});

void t.test('labels must be strings, integers up to 32 bits, or u64s', (t) => {
  for (const kind of ['s64', 'bytes'] as const) {
    const field: Field = { name: 'f', offset: 0, size: 8, kind };
    t.throws(
      () => new RecordCounter('m', 'h', [{ label: 'l', field }], { maxSeries: 10, ttlMs: 0 }),
      { message: new RegExp(`kind ${kind}`) },
      kind,
    );
  }
  t.end();
});

void t.test('a u64 label expanded at collection: keyed by all 64 bits, equal expansions merged', (t) => {
  const cgroup: Field = { name: 'cgroup_id', offset: 0, size: 8, kind: 'u64' };
  // Two ids that differ only in the high word, and a third that expands like the first.
  const ids = [0x1_0000_0007n, 0x2_0000_0007n, 0x3_0000_0001n];
  const expand = (id: bigint) => ({ pod: id === 0x2_0000_0007n ? 'b' : 'a' });
  const counter = new RecordCounter('m', 'h', [{ label: 'cgroup', field: cgroup, expand }], {
    maxSeries: 10,
    ttlMs: 0,
  });
  const view = new DataView(new ArrayBuffer(8 * ids.length));
  ids.forEach((id, i) => view.setBigUint64(8 * i, id, true));
  countRecords(
    counter,
    view,
    ids.flatMap((_, i) => Array<number>(i + 1).fill(8 * i)),
  );
  t.equal(counter.seriesCount, 3, 'three keys');
  t.same(
    counter.collect().sort((x, y) => x.labels.pod.localeCompare(y.labels.pod)),
    [
      { labels: { pod: 'a' }, value: 1 + 3 },
      { labels: { pod: 'b' }, value: 2 },
    ],
    'series reading the same labels are one',
  );
  t.end();
});

void t.test(
  'prepare(): labels built once, in chunks; equal expansions merged; a changed expansion re-labels',
  async (t) => {
    const cgroup: Field = { name: 'cgroup_id', offset: 0, size: 8, kind: 'u64' };
    const series = 2500;
    // Cached answers, as Attribution gives them: the same object for a cgroup until what it knows changes.
    const answers = new Map<bigint, { pod: string }>();
    const expand = (id: bigint): { pod: string } => {
      let answer = answers.get(id);
      if (!answer) answers.set(id, (answer = { pod: `p${id % 1000n}` }));
      return answer;
    };
    const counter = new RecordCounter('m', 'h', [{ label: 'cgroup', field: cgroup, expand }], {
      maxSeries: 10000,
      ttlMs: 0,
    });
    const view = new DataView(new ArrayBuffer(8 * series));
    for (let i = 0; i < series; i++) view.setBigUint64(8 * i, BigInt(i), true);
    countRecords(
      counter,
      view,
      Array.from({ length: series }, (_, i) => 8 * i),
    );

    let pauses = 0;
    await counter.prepare(() => Promise.resolve(void pauses++));
    t.equal(pauses, 4, 'a pause every 1000 series, labelling then linking the merges');
    const first = counter.collect();
    t.equal(first.length, 1000, 'cgroups i, i+1000 and i+2000 read the same pod: one sample');
    t.ok(
      first.every((s) => s.value === (Number(s.labels.pod.slice(1)) < 500 ? 3 : 2)),
      'each sample sums its cgroups',
    );
    pauses = 0;
    await counter.prepare(() => Promise.resolve(void pauses++));
    t.equal(pauses, 2, 'nothing changed: the merges are not looked for again');
    const second = counter.collect();
    t.ok(
      second.every((s, i) => s.labels === first[i].labels),
      'the next collection hands out the same label objects',
    );

    answers.set(7n, { pod: 'moved' }); // cgroup 7 now reads another pod, without a prepare() since
    const after = new Map(counter.collect().map((s) => [s.labels.pod, s.value]));
    t.equal(after.get('moved'), 1, 'the changed series has its new labels');
    t.equal(after.get('p7'), 2, 'and left the sample it merged into');
    t.equal(after.size, 1001, 'no label set twice');
  },
);

void t.test('many series: values grow with the table', (t) => {
  const counter = new RecordCounter('execs', 'help', [{ label: 'comm', field: comm }], { maxSeries: 10000, ttlMs: 0 });
  const names = Array.from({ length: 500 }, (_, i) => `c${i}`);
  const { view, offsets } = batch(names.map((n) => cString(n, 16)));
  for (let round = 0; round < 3; round++) countRecords(counter, view, offsets);
  const values = collectMap(counter);
  t.equal(Object.keys(values).length, 500);
  t.ok(
    names.every((n) => values[n] === 3),
    'every series counted 3 times',
  );
  t.end();
});

void t.test('a counter without labels has one series', (t) => {
  const counter = new RecordCounter('plain_total', 'help', [], { maxSeries: 10, ttlMs: 0 });
  const view = new DataView(new ArrayBuffer(16));
  countRecords(counter, view, [0]);
  countRecords(counter, view, [8, 8, 8, 8]);
  t.same(counter.collect(), [{ labels: {}, value: 5 }]);
  t.end();
});
