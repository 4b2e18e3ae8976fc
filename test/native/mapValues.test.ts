// How map values come back to user space: which maps are per-CPU and how
// their values are laid out is the addon's decision alone (native/map_io.cc),
// reported by entries() so TypeScript never works it out again. Checked in
// the kernel with one map of each hash kind holding a 12-byte value
// (bpf/mapvalues.bpf.c): per-CPU values rounded up to 16 bytes, one per
// possible CPU; a plain hash's value as declared.
import t from 'tap';

import { addon } from '../../src/native/addon';
import { u32 } from '../helpers/bytes';
import { possibleCpus } from '../helpers/cpus';
import { MAPVALUES_OBJECT } from '../helpers/paths';

const VALUE_WORDS = 3; // struct mapvalues_value: three u32s
const STORED: Record<number, number> = { 7: 100, 9: 200 }; // key -> the value's first word

const EXPECTED = [
  { map: 'hash', valueStride: 12, cpus: 1 },
  { map: 'percpu_hash', valueStride: 16, cpus: possibleCpus() },
  { map: 'lru_percpu_hash', valueStride: 16, cpus: possibleCpus() },
];

/** The value's words on each CPU that holds a non-zero one. */
function storedValues(bytes: Uint8Array, cpus: number, stride: number): number[][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: number[][] = [];
  for (let cpu = 0; cpu < cpus; cpu++) {
    const words = Array.from({ length: VALUE_WORDS }, (_, w) => view.getUint32(cpu * stride + w * 4, true));
    if (words.some((word) => word !== 0)) values.push(words);
  }
  return values;
}

void t.test('entries() reports the value stride and values per key; lookup() returns the same layout', (t) => {
  const object = new addon.BpfObject(MAPVALUES_OBJECT, 'mapvalues');
  t.teardown(() => object.close());
  object.load();
  for (const [key, first] of Object.entries(STORED)) {
    t.equal(object.testRun('fill_maps', [Number(key), first]), 0, `key ${key} stored in every map`);
  }

  for (const { map, valueStride, cpus } of EXPECTED) {
    const entries = object.entries(map);
    t.same({ valueStride: entries.valueStride, cpus: entries.cpus }, { valueStride, cpus }, `${map}: layout`);
    t.equal(entries.count, 2, `${map}: both keys`);
    const entryBytes = cpus * valueStride;
    t.equal(entries.values.byteLength, entries.count * entryBytes, `${map}: count x cpus x stride bytes of values`);
    const keys = new DataView(entries.keys.buffer, entries.keys.byteOffset, entries.keys.byteLength);
    for (let i = 0; i < entries.count; i++) {
      const key = keys.getUint32(i * 4, true);
      const first = STORED[key];
      const value = entries.values.subarray(i * entryBytes, (i + 1) * entryBytes);
      // The test run stored it on the one CPU it ran on.
      t.same(storedValues(value, cpus, valueStride), [[first, first + 1, first + 2]], `${map}[${key}]: the value`);
      const looked = object.lookup(map, u32(key));
      t.same(looked && Array.from(looked), Array.from(value), `${map}[${key}]: lookup() returns the same bytes`);
    }
  }
  t.end();
});
