// The compiled ring walker with a probe's aggregator fed generated rings:
// records good, truncated, oversized, of another type or version, with random
// label bytes (non-UTF-8, no NUL), discarded, still being written, and ring
// headers whose length runs past the written bytes. Property-based
// (fast-check): no exception escapes, the walk ends and never passes the
// available bytes, every bad record is counted once as a decode error, and
// every good record around them is counted exactly.
import fc from 'fast-check';
import t from 'tap';

import { ProbeAggregator } from '../../src/aggregate/ProbeAggregator';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { ResolvedRecord } from '../../src/decode/ResolvedRecord';
import { CORRUPT_HEADERS, WALKED_RECORDS, compileRecordLoop } from '../../src/drain/RecordLoop';
import { addon } from '../../src/native/addon';
import type { ProbeDefinition } from '../../src/probes/ProbeDefinition';
import { execProbe } from '../../src/probes/exec';
import { oomProbe } from '../../src/probes/oom';
import type { RingRecord } from '../helpers/fakeRing';
import { BUSY_BIT, DISCARD_BIT, FakeRing, ringSpan } from '../helpers/fakeRing';
import { BPF_DIR } from '../helpers/paths';
import { cString } from '../helpers/records';

const RING_BYTES = 8192;
const RUNS_PER_PROBE = 40000;
const MAX_OVERSIZE = 256;

type Kind = 'good' | 'oversized' | 'truncated' | 'garbled' | 'discarded';

interface Generated {
  kind: Kind;
  record: RingRecord;
}

/** What the ring ends with after its records. */
type Tail = { kind: 'none' } | { kind: 'busy'; record: RingRecord } | { kind: 'absurd'; record: RingRecord };

interface Probe {
  definition: ProbeDefinition;
  layout: RecordLayout;
  type: number;
}

/** The probe's record layout and type as the compiled object holds them (BTF). */
function probeOf(definition: ProbeDefinition): Probe {
  const object = new addon.BpfObject(`${BPF_DIR}/${definition.object}`, definition.name);
  try {
    const layout = RecordLayout.fromObject(object, definition.record!.struct);
    const type = object.enumValues('ks_record_type')[definition.record!.type];
    return { definition, layout, type };
  } finally {
    object.close();
  }
}

function withHeader(body: Uint8Array, probe: Probe, typeWord: number): Uint8Array {
  const out = body.slice();
  const view = new DataView(out.buffer);
  const type = probe.layout.field('hdr.type');
  if (out.length >= type.offset + 4) view.setUint32(type.offset, typeWord, true);
  return out;
}

/** Arbitrary records of every kind for `probe`. */
function recordArbitrary(probe: Probe): fc.Arbitrary<Generated> {
  const size = probe.layout.size;
  const expected = probe.type | (probe.definition.record!.version << 16);
  const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
  const comm = probe.layout.field('comm');
  // Label bytes: random (often no NUL, often not UTF-8), or a short C string.
  const label = fc.oneof(
    bytes(comm.size, comm.size),
    fc.string({ maxLength: comm.size - 1 }).map((text) => cString(text, comm.size)),
  );
  const good = (extra: number) =>
    fc.tuple(bytes(size + extra, size + extra), label).map(([body, labelBytes]) => {
      const out = withHeader(body, probe, expected);
      out.set(labelBytes, comm.offset);
      return out;
    });
  return fc.oneof(
    good(0).map((body) => ({ kind: 'good' as const, record: { header: size, body } })),
    fc
      .integer({ min: 1, max: MAX_OVERSIZE })
      .chain(good)
      .map((body) => ({ kind: 'oversized' as const, record: { header: body.length, body } })),
    fc
      .tuple(fc.integer({ min: 0, max: size - 1 }), fc.boolean())
      .chain(([length, validHeader]) =>
        bytes(length, length).map((body) => (validHeader ? withHeader(body, probe, expected) : body)),
      )
      .map((body) => ({ kind: 'truncated' as const, record: { header: body.length, body } })),
    fc
      .tuple(
        fc.integer({ min: 0, max: MAX_OVERSIZE }),
        fc.integer({ min: 0, max: 0xffffffff }).filter((w) => (w | 0) !== expected),
      )
      .chain(([extra, word]) => bytes(size + extra, size + extra).map((body) => withHeader(body, probe, word)))
      .map((body) => ({ kind: 'garbled' as const, record: { header: body.length, body } })),
    fc
      .integer({ min: 0, max: size + MAX_OVERSIZE })
      .chain((length) => bytes(length, length))
      .map((body) => ({ kind: 'discarded' as const, record: { header: body.length | DISCARD_BIT, body } })),
  );
}

const tailArbitrary: fc.Arbitrary<Tail> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.tuple(fc.integer({ min: 0, max: 0x3fffffff }), fc.boolean()).map(([length, discarded]) => ({
    kind: 'busy' as const,
    record: { header: (BUSY_BIT | (discarded ? DISCARD_BIT : 0) | length) >>> 0, body: new Uint8Array(0) },
  })),
  // Longer than any ring: it runs past whatever was written.
  fc.integer({ min: RING_BYTES, max: 0x3fffffff }).map((length) => ({
    kind: 'absurd' as const,
    record: { header: length, body: new Uint8Array(0) },
  })),
);

interface Expected {
  walked: number;
  good: number;
  bad: number;
  corrupt: number;
}

/**
 * What a correct walk of `records` over `available` bytes sees: records in
 * order until the bytes run out, one still being written, or one whose span
 * passes the available bytes (a corrupted ring: counted, the rest skipped).
 */
function expectedWalk(records: readonly Generated[], tail: Tail, available: number): Expected {
  const out: Expected = { walked: 0, good: 0, bad: 0, corrupt: 0 };
  const all: { kind: Kind | Tail['kind']; record: RingRecord }[] =
    tail.kind === 'none' ? [...records] : [...records, tail];
  for (const { kind, record } of all) {
    if (out.walked >= available || kind === 'busy') break;
    const span = ringSpan(record.header & (DISCARD_BIT - 1));
    if (span > available - out.walked) {
      out.corrupt = 1;
      out.walked = available;
      break;
    }
    out.walked += span;
    if (kind === 'good' || kind === 'oversized') out.good++;
    else if (kind !== 'discarded') out.bad++;
  }
  return out;
}

function ringArbitrary(probe: Probe) {
  return (
    fc
      .record({
        records: fc.array(recordArbitrary(probe), { maxLength: 12 }),
        tail: tailArbitrary,
        start: fc.integer({ min: 0, max: RING_BYTES / 8 - 1 }).map((slot) => slot * 8),
        stale: fc.uint8Array({ minLength: 1, maxLength: 64 }),
        // Where the producer position stands: past everything, or cut short inside it.
        cut: fc.option(fc.integer({ min: 0, max: RING_BYTES / 8 }), { nil: undefined }),
      })
      // Room for the tail's header after the records.
      .filter(
        ({ records }) =>
          records.reduce((sum, r) => sum + ringSpan(r.record.header & (DISCARD_BIT - 1)), 0) < RING_BYTES,
      )
  );
}

for (const definition of [execProbe, oomProbe]) {
  void t.test(`${definition.name}: generated rings through the compiled walker and aggregator`, (t) => {
    const probe = probeOf(definition);
    let cases = 0;
    fc.assert(
      fc.property(ringArbitrary(probe), ({ records, tail, start, stale, cut }) => {
        cases++;
        const ring = new FakeRing(RING_BYTES, stale);
        const written = ring.write(
          start,
          records.map((r) => r.record),
        );
        if (tail.kind !== 'none') ring.write(start + written, [tail.record]);
        // The producer position: 8-aligned, at most a ring ahead; past the records
        // only when a tail header follows them (beyond it lie stale bytes).
        const end = tail.kind === 'none' ? written : RING_BYTES;
        const available = cut === undefined ? end : Math.min(cut * 8, end);

        const aggregator = new ProbeAggregator(probe.definition, new ResolvedRecord(probe.layout, probe.type, 1), {
          limits: { maxSeries: 4, ttlMs: 0 },
          attribution: (id) => ({ namespace: `ns${id % 3n}`, pod: `pod${id % 5n}`, container: 'c' }),
        });
        const counts = new Float64Array(2);
        const walk = compileRecordLoop(aggregator.recordCode(), counts);
        const walked = walk(ring.view, ring.words, start, available, ring.mask);

        const want = expectedWalk(records, tail, available);
        const counted = aggregator.counters.map((c) => c.collect().reduce((sum, s) => sum + s.value, 0));
        const seen = {
          walked,
          good: counts[WALKED_RECORDS] - aggregator.invalid,
          bad: aggregator.invalid,
          corrupt: counts[CORRUPT_HEADERS],
        };
        return (
          walked <= available && JSON.stringify(seen) === JSON.stringify(want) && counted.every((n) => n === want.good)
        );
      }),
      { numRuns: RUNS_PER_PROBE },
    );
    t.equal(cases, RUNS_PER_PROBE, `${RUNS_PER_PROBE} generated rings hold every property`);
    t.end();
  });
}
