// Feeds hand-made records through the production drain loop
// (compileRecordLoop), as RingDrain does: each record copied behind a ring
// header into a FakeRing, then one walk over them all.
import type { RecordCounter } from '../../src/aggregate/RecordCounter';
import type { RecordSink } from '../../src/drain/RecordLoop';
import { compileRecordLoop } from '../../src/drain/RecordLoop';
import { FakeRing, ringSpan } from './fakeRing';

/**
 * Runs `sink` over the records at `offsets` of `view`, in order: each
 * `length` bytes long, or to the end of `view` when that comes first.
 */
export function drainRecords(sink: RecordSink, view: DataView, offsets: readonly number[], length = 512): void {
  const bodies = offsets.map((offset) =>
    new Uint8Array(view.buffer, view.byteOffset + offset, Math.min(length, view.byteLength - offset)).slice(),
  );
  const total = bodies.reduce((sum, body) => sum + ringSpan(body.length), 0);
  let size = 64;
  while (size < total) size *= 2;
  const ring = new FakeRing(size, new Uint8Array([0]));
  ring.write(
    0,
    bodies.map((body) => ({ header: body.length, body })),
  );
  const counts = new Float64Array(2);
  compileRecordLoop(sink.recordCode(), counts)(ring.view, ring.words, 0, total, ring.mask);
}

/** One counter's per-record code alone, as a sink (ProbeAggregator puts the record check before it). */
export function counterSink(counter: RecordCounter): RecordSink {
  return {
    recordCode: () => ({
      prelude: 'const counter = state;',
      body: counter.blockSource('counter', 'count'),
      state: counter,
    }),
  };
}

/** Counts the records at `offsets` of `view` in `counter`, through the drain loop. */
export function countRecords(counter: RecordCounter, view: DataView, offsets: readonly number[]): void {
  drainRecords(counterSink(counter), view, offsets);
}
