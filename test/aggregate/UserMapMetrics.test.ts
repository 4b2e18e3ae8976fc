// A user probe's families over map contents given as bytes (a stand-in for
// the addon's entries(), which the example tests exercise on real maps):
// bucket keys grouped into histograms with the sum key, per-CPU rows, drops.
import t from 'tap';

import type { HistogramSample, Sample } from '../../src/aggregate/MetricFamily';
import { userMapFamilies } from '../../src/aggregate/UserMapMetrics';
import type { MapEntries, NativeBpfObject } from '../../src/native/addon';
import type { ByteLabel, UserMapMetricDefinition } from '../../src/probes/ProbeDefinition';

const SETTINGS = { limits: { maxSeries: 100, ttlMs: 0 } };

/** An object whose map `map` holds `rows` (key bytes, one u64 per CPU). */
function objectWith(rows: [key: number[], perCpu: number[]][], cpus = 1): NativeBpfObject {
  const keySize = rows[0]?.[0].length ?? 4;
  const entries = (): MapEntries => {
    const keys = new Uint8Array(rows.length * keySize);
    const values = new Uint8Array(rows.length * cpus * 8);
    const view = new DataView(values.buffer);
    rows.forEach(([key, perCpu], i) => {
      keys.set(key, i * keySize);
      perCpu.forEach((value, cpu) => view.setBigUint64((i * cpus + cpu) * 8, BigInt(value), true));
    });
    return { count: rows.length, keys, values, valueStride: 8, cpus };
  };
  return { entries } as unknown as NativeBpfObject;
}

const u32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
const uintLabel = (name: string, offset: number, size = 4): ByteLabel => ({
  name,
  offset,
  size,
  decode: (bytes) => String(new DataView(bytes.buffer, bytes.byteOffset, size).getUint32(0, true)),
});

void t.test('an exp2 histogram: bucket keys grouped per label set, the sum key, keys past the range ignored', (t) => {
  // key: {u32 op; u32 bucket}; buckets 0..3 (le 2^b * 0.5), the sum at 4.
  const object = objectWith([
    [[...u32(0), ...u32(0)], [2]],
    [[...u32(0), ...u32(2)], [3]],
    [[...u32(0), ...u32(4)], [15]], // the sum key: what the program added up
    [[...u32(1), ...u32(3)], [1]],
    [[...u32(1), ...u32(9)], [7]], // outside [min, max] and not the sum: not counted
  ]);
  const definition: UserMapMetricDefinition = {
    type: 'histogram',
    name: 'kernscope_lat_seconds',
    help: 'h',
    map: 'lat_seconds',
    keySize: 8,
    labels: [uintLabel('op', 0)],
    histogram: { offset: 4, size: 4, keys: [0, 1, 2, 3], bounds: [0.5, 1, 2, 4], sumKey: 4, sumScale: 0.5 },
  };
  const [family] = userMapFamilies(object, [definition], SETTINGS);
  const samples = (family.collect() as HistogramSample[]).sort((a, b) => a.labels.op.localeCompare(b.labels.op));
  t.same(
    samples.map(({ labels, counts, sum, count, bounds }) => ({ labels, counts, sum, count, bounds })),
    [
      { labels: { op: '0' }, counts: [2, 0, 3, 0, 0], sum: 7.5, count: 5, bounds: [0.5, 1, 2, 4] },
      { labels: { op: '1' }, counts: [0, 0, 0, 1, 0], sum: 0, count: 1, bounds: [0.5, 1, 2, 4] },
    ],
  );
  t.end();
});

void t.test('a counter: per-CPU values summed; a label that drops its sample leaves it out', (t) => {
  const object = objectWith(
    [
      [u32(1), [3, 4]],
      [u32(2), [5, 0]],
      [u32(3), [1, 1]],
    ],
    2,
  );
  const drop: ByteLabel = {
    ...uintLabel('port', 0),
    decode: (bytes) => (bytes[0] === 3 ? undefined : String(bytes[0])),
  };
  const [family] = userMapFamilies(
    object,
    [{ type: 'counter', name: 'c', help: 'h', map: 'c', keySize: 4, labels: [drop] }],
    SETTINGS,
  );
  t.same(
    (family.collect() as Sample[]).sort((a, b) => a.value - b.value),
    [
      { labels: { port: '2' }, value: 5 },
      { labels: { port: '1' }, value: 7 },
    ],
  );
  t.end();
});

void t.test("per-CPU rows: a last 'cpu' label makes each CPU's value a series", (t) => {
  const object = objectWith(
    [
      [u32(3), [10, 20]],
      [u32(7), [0, 1]],
    ],
    2,
  );
  const cpu: ByteLabel = {
    name: 'cpu',
    offset: 4,
    size: 2,
    decode: (b) => String(new DataView(b.buffer, b.byteOffset, 2).getUint16(0, true)),
  };
  const [family] = userMapFamilies(
    object,
    [
      {
        type: 'counter',
        name: 'c',
        help: 'h',
        map: 'c',
        keySize: 6,
        labels: [uintLabel('vec', 0), cpu],
        perCpuRows: { replaceKey: false },
      },
    ],
    SETTINGS,
  );
  t.same((family.collect() as Sample[]).map((s) => `${s.labels.vec}/${s.labels.cpu}=${s.value}`).sort(), [
    '3/0=10',
    '3/1=20',
    '7/0=0',
    '7/1=1',
  ]);
  const [alone] = userMapFamilies(
    objectWith([[u32(0), [4, 6]]], 2),
    [
      {
        type: 'counter',
        name: 'c',
        help: 'h',
        map: 'c',
        keySize: 2,
        labels: [{ ...cpu, offset: 0 }],
        perCpuRows: { replaceKey: true },
      },
    ],
    SETTINGS,
  );
  t.same(
    (alone.collect() as Sample[]).map((s) => `${s.labels.cpu}=${s.value}`).sort(),
    ['0=4', '1=6'],
    "a one-entry array's u32 0 replaced by the CPU",
  );
  t.end();
});

void t.test('a lookup that has not found its value yet is decoded again; a found one is kept', (t) => {
  const known = new Map<number, string>();
  let decoded = 0;
  const device: ByteLabel = {
    ...uintLabel('device', 0),
    lookup: true,
    decode: (bytes) => {
      decoded++;
      return known.get(bytes[0]) ?? `unknown:${bytes[0]}`;
    },
  };
  const [family] = userMapFamilies(
    objectWith([[u32(7), [1]]]),
    [{ type: 'counter', name: 'c', help: 'h', map: 'c', keySize: 4, labels: [device] }],
    SETTINGS,
  );
  t.same(family.collect(), [{ labels: { device: 'unknown:7' }, value: 1 }], 'not known yet');
  known.set(7, 'loop7'); // the disk appears
  t.same(family.collect(), [{ labels: { device: 'loop7' }, value: 1 }], 'named once known');
  const before = decoded;
  family.collect();
  t.equal(decoded, before, 'then kept: not decoded again');
  t.end();
});
