// The kernel's latency slots are Prometheus native buckets exactly: the slot
// functions of bpf/histogram.bpf.h, run in the kernel (bpf/histogramslots.bpf.c,
// one object per schema), against a reference in exact integer arithmetic
// that shares nothing with them (no edge table, no log2), and the user-space
// mirror (src/decode/latencySlots.ts) against both.
import path from 'node:path';

import t from 'tap';

import { nativeIndexOfSlot, schemaOfSlots, slotOfEdge, slotUpperEdge } from '../../src/decode/latencySlots';
import { addon } from '../../src/native/addon';
import { BPF_DIR } from '../helpers/paths';

const UNITS_PER_SECOND = 1n << 30n;
const U64_MAX = (1n << 64n) - 1n;

/** Slot of `units` at `schema`: 0 for 0, else 1 + the least i with units^(2^schema) <= 2^i. */
function referenceSlot(units: bigint, schema: number): number {
  if (units === 0n) return 0;
  const power = units ** (1n << BigInt(schema));
  return 1 + (power === 1n ? 0 : (power - 1n).toString(2).length);
}

/** Nanoseconds in kernel units, rounded up. */
function referenceUnits(ns: bigint): bigint {
  const units = (ns * UNITS_PER_SECOND + 999_999_999n) / 1_000_000_000n;
  return units > U64_MAX ? U64_MAX : units;
}

function objectOf(schema: number): string {
  return path.join(BPF_DIR, schema === 0 ? 'histogramslots.bpf.o' : `histogramslots.schema${schema}.bpf.o`);
}

/** Values around every power of two and every sub-octave edge of schema 3, and a spread of others. */
function unitValues(): bigint[] {
  const values = new Set<bigint>([0n, 1n, 2n, 3n, U64_MAX]);
  for (let k = 0n; k < 64n; k++) {
    for (let j = 0; j < 8; j++) {
      // floor(2^k * 2^(j/8)): the 8th root of 2^(8k + j), found by bisection in integers.
      const target = 1n << (8n * k + BigInt(j));
      let lo = 1n << k;
      let hi = 1n << (k + 1n);
      while (hi - lo > 1n) {
        const mid = (lo + hi) / 2n;
        if (mid ** 8n <= target) lo = mid;
        else hi = mid;
      }
      for (const v of [lo - 1n, lo, lo + 1n]) if (v >= 0n && v <= U64_MAX) values.add(v);
    }
  }
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 300; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & U64_MAX;
    values.add(x >> BigInt(i % 64));
  }
  return [...values];
}

function nanosecondValues(): bigint[] {
  const values = new Set<bigint>([0n, 1n, 999_999_999n, 1_000_000_000n, 1_000_000_001n, U64_MAX]);
  for (let e = 0; e < 64; e++) {
    // Nanoseconds on either side of 2^(e - 30) s, where rounding to units decides the slot.
    const edge = ((1n << BigInt(e)) * 1_000_000_000n) / UNITS_PER_SECOND;
    for (const v of [edge - 1n, edge, edge + 1n, edge + 2n]) if (v >= 0n && v <= U64_MAX) values.add(v);
  }
  for (let ns = 1n; ns < 1n << 50n; ns = ns * 7n + 3n) values.add(ns);
  return [...values];
}

function run(object: InstanceType<typeof addon.BpfObject>, program: string, value: bigint): number {
  return object.testRun(program, [Number(value >> 32n), Number(value & 0xffffffffn)]);
}

for (const schema of [0, 1, 2, 3]) {
  void t.test(`schema ${schema}: the kernel's slot of every value is the native bucket's`, (t) => {
    const object = new addon.BpfObject(objectOf(schema), 'histogramslots');
    t.teardown(() => object.close());
    object.load();
    const slots = 2 + (64 << schema);
    t.equal(schemaOfSlots(slots), schema, 'the slot count says the schema');
    let units = 0;
    const wrongUnits: string[] = [];
    for (const value of unitValues()) {
      units++;
      const expected = referenceSlot(value, schema);
      const got = run(object, 'units_slot', value);
      if (got !== expected) wrongUnits.push(`${value}: ${got}, expected ${expected}`);
    }
    t.same(wrongUnits, [], `${units} unit values, each in its bucket`);
    const wrongNs: string[] = [];
    let ns = 0;
    for (const value of nanosecondValues()) {
      ns++;
      const expected = referenceSlot(referenceUnits(value), schema);
      const got = run(object, 'latency_slot', value);
      if (got !== expected) wrongNs.push(`${value} ns: ${got}, expected ${expected}`);
    }
    t.same(wrongNs, [], `${ns} nanosecond values, each in its bucket`);
    t.equal(run(object, 'units_slot', U64_MAX), slots - 1, 'the largest value, in the last slot');
    t.end();
  });
}

void t.test('user space reads slot edges as the kernel counts them', (t) => {
  for (const schema of [0, 1, 2, 3]) {
    const slots = 2 + (64 << schema);
    // Slot 1 holds 1 unit, 2^-30 s: native index -30 * 2^schema.
    t.equal(nativeIndexOfSlot(1, schema), -30 * 2 ** schema);
    t.equal(slotUpperEdge(1, schema), 2 ** -30);
    t.equal(slotUpperEdge(slots - 1, schema), 2 ** 34, 'the last slot ends at 2^34 s');
    t.equal(slotOfEdge(1, schema, slots), 1 + 30 * 2 ** schema, 'one second');
    t.equal(slotOfEdge(2 ** -30, schema, slots), 1);
    t.equal(slotOfEdge(2 ** -31, schema, slots), undefined, 'below the first slot');
    t.equal(slotOfEdge(0.001, schema, slots), undefined, 'between edges');
    for (let slot = 1; slot < slots; slot++) {
      if (slotOfEdge(slotUpperEdge(slot, schema), schema, slots) !== slot) t.fail(`slot ${slot} round-trips`);
    }
  }
  t.equal(slotOfEdge(2 ** 0.5, 1, 130), 1 + 30 * 2 + 1, 'a sub-octave edge at schema 1');
  t.throws(() => schemaOfSlots(32), /32 histogram slots is no schema/);
  t.end();
});
