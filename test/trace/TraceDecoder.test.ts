// Every probe's trace decoder fed generated records (layouts and record types
// from the compiled objects' BTF): good ones with random field bytes (labels
// without NUL, not UTF-8, absurd numbers), truncated, oversized, and of
// another type or version. Property-based (fast-check): no exception escapes
// decoding or printing (table row and JSON line), every bad record is counted
// invalid once, every good one becomes an event.
import fc from 'fast-check';
import t from 'tap';

import type { RecordLayout } from '../../src/decode/RecordLayout';
import { ResolvedRecord } from '../../src/decode/ResolvedRecord';
import { addon } from '../../src/native/addon';
import { BUILTIN_PROBES } from '../../src/probes';
import type { TraceDefinition } from '../../src/probes/ProbeDefinition';
import { FILTERED_RECORD, INVALID_RECORD, TraceDecoder } from '../../src/trace/TraceDecoder';
import { TraceTable, jsonLine } from '../../src/trace/TraceFormat';
import { BPF_DIR } from '../helpers/paths';

const RUNS = 60000;
const MAX_OVERSIZE = 64;

interface Traced {
  name: string;
  trace: TraceDefinition;
  record: ResolvedRecord;
  layout: RecordLayout;
  type: number;
}

function tracedProbes(): Traced[] {
  return BUILTIN_PROBES.flatMap((definition) => {
    const trace = definition.trace;
    if (!trace) return [];
    const object = new addon.BpfObject(`${BPF_DIR}/${definition.object}`, definition.name);
    try {
      const record = ResolvedRecord.resolve(object, definition.name, definition.record!);
      return [{ name: definition.name, trace, record, layout: record.layout, type: record.type }];
    } finally {
      object.close();
    }
  });
}

interface Case {
  probe: number;
  good: boolean;
  bytes: Uint8Array;
  /** Where the record starts in `bytes` (8-aligned, as in the ring). */
  at: number;
  length: number;
}

function caseArbitrary(probes: readonly Traced[]): fc.Arbitrary<Case> {
  return fc
    .record({
      probe: fc.nat(probes.length - 1),
      shape: fc.constantFrom('good', 'oversized', 'truncated', 'garbled'),
      extra: fc.integer({ min: 1, max: MAX_OVERSIZE }),
      word: fc.integer({ min: 0, max: 0xffffffff }),
      at: fc.nat(7).map((slot) => slot * 8),
      seed: fc.uint8Array({ minLength: 1, maxLength: 512 }),
    })
    .map(({ probe, shape, extra, word, at, seed }) => {
      const { layout, record } = probes[probe];
      const expected = record.expectedHeader;
      const length = shape === 'truncated' ? word % layout.size : layout.size + (shape === 'oversized' ? extra : 0);
      // Room for the largest record, as the ring has: bytes past `length` are stale, not the record's.
      const bytes = new Uint8Array(at + layout.size + MAX_OVERSIZE);
      for (let i = 0; i < bytes.length; i++) bytes[i] = seed[i % seed.length] ^ (i * 151);
      // hdr.type and hdr.version as one word; truncated records sometimes keep a valid one.
      let header = expected;
      if (shape === 'garbled') header = (word | 0) === expected ? word ^ 1 : word;
      const typeAt = at + layout.field('hdr.type').offset;
      if (shape !== 'truncated' || word & 1) new DataView(bytes.buffer).setUint32(typeAt, header >>> 0, true);
      return { probe, good: shape === 'good' || shape === 'oversized', bytes, at, length };
    });
}

void t.test('trace decoders of every probe take generated records without an exception', (t) => {
  const probes = tracedProbes();
  t.ok(probes.length >= 7, `${probes.length} probes trace`);
  const decoders = probes.map((p) => new TraceDecoder(p.name, p.trace, p.record));
  const table = new TraceTable(new Map(probes.map((p) => [p.name, p.trace])));
  let cases = 0;
  fc.assert(
    fc.property(caseArbitrary(probes), ({ probe, good, bytes, at, length }) => {
      cases++;
      const event = decoders[probe].decode(new DataView(bytes.buffer), new Int32Array(bytes.buffer), at, length);
      if (!good) return event === INVALID_RECORD;
      if (typeof event === 'string') return false;
      // Printing takes whatever the fields held.
      return table.row(event).length > 0 && jsonLine(event).startsWith('{');
    }),
    { numRuns: RUNS },
  );
  t.equal(cases, RUNS, `${RUNS} generated records hold every property`);
  t.end();
});

void t.test('a comm pattern filters valid records and never counts them invalid', (t) => {
  const [probe] = tracedProbes().filter((p) => p.name === 'exec');
  const decoder = new TraceDecoder(probe.name, probe.trace, probe.record, /^keep/);
  const comm = probe.layout.field('comm');
  const record = (name: string): DataView => {
    const bytes = new Uint8Array(probe.layout.size);
    const view = new DataView(bytes.buffer);
    view.setUint32(probe.layout.field('hdr.type').offset, probe.record.expectedHeader, true);
    bytes.set(new TextEncoder().encode(name), comm.offset);
    return view;
  };
  const decodeNamed = (name: string) => {
    const view = record(name);
    return decoder.decode(view, new Int32Array(view.buffer), 0, probe.layout.size);
  };
  t.equal(decodeNamed('drop-me'), FILTERED_RECORD);
  t.match(decodeNamed('keep-me'), { probe: 'exec', comm: 'keep-me' });
  t.end();
});
