// Moves records from a probe's ring buffer into its sink without copying and
// without native calls: the ring is mapped, a compiled loop (RecordLoop)
// walks the records in place, and the consumer position goes back to the
// kernel once per batch. The kernel wakes us once `wakeupBytes` wait (through
// a libuv poll: see NativeRingReader.watch); a native timer drains whatever
// is left, which bounds latency when traffic is light, and calls no JS while
// the ring is empty.
// Readiness is edge-triggered (the kernel's wakeup, not the presence of
// data), so a busy ring is drained in batches of about `wakeupBytes`, not a
// few records per turn of the event loop (bench/README.md).
import type { NativeBpfObject, NativeRingReader } from '../native/addon';
import { addon } from '../native/addon';
import type { BatchWalker, RecordSink } from './RecordLoop';
import { CORRUPT_HEADERS, WALKED_RECORDS, compileRecordLoop } from './RecordLoop';

export interface DrainSettings {
  intervalMs: number;
  /** The ring buffer map: `events` in every built-in object, a user probe's own (its trace `ringbuf`). */
  ring?: string;
}

export class RingDrain {
  private readonly reader: NativeRingReader;
  private readonly view: DataView;
  private readonly words: Int32Array;
  private readonly producerPosition: BigInt64Array;
  private readonly consumerPosition: BigInt64Array;
  private readonly mask: number;
  private readonly walk: BatchWalker;
  private readonly walkCounts = new Float64Array(2);
  private consumed: bigint;
  /** Batches that found records. */
  batches = 0;
  /** Readiness callbacks (kernel wakeups), timer drains not included. */
  wakeups = 0;
  /** When the ring was last drained (ms since epoch); an empty ring is not drained. */
  lastDrainMs = 0;

  constructor(
    object: NativeBpfObject,
    sink: RecordSink,
    private readonly settings: DrainSettings,
  ) {
    const reader = new addon.RingReader(object, settings.ring ?? 'events');
    this.reader = reader;
    this.view = new DataView(reader.producer, reader.dataOffset);
    this.words = new Int32Array(reader.producer, reader.dataOffset);
    this.producerPosition = new BigInt64Array(reader.producer, 0, 1);
    this.consumerPosition = new BigInt64Array(reader.consumer, 0, 1);
    this.mask = reader.size - 1;
    this.consumed = Atomics.load(this.consumerPosition, 0);
    this.walk = compileRecordLoop(sink.recordCode(), this.walkCounts);
  }

  /** Records handed to the sink. */
  get records(): number {
    return this.walkCounts[WALKED_RECORDS];
  }

  /** Ring headers with an impossible length: a corrupted ring, whose unreadable rest was skipped. */
  get corruptHeaders(): number {
    return this.walkCounts[CORRUPT_HEADERS];
  }

  /** Drains on readiness (see NativeRingReader.watch) and on the timer. */
  start(): void {
    this.reader.watch((woken) => {
      if (woken) this.wakeups++;
      this.drain();
    }, this.settings.intervalMs);
  }

  /** Whether records wait in the ring (the next may still be being written). */
  get pending(): boolean {
    return Atomics.load(this.producerPosition, 0) !== this.consumed;
  }

  /** Drains until the ring is empty (or its next record is still being written); returns records handed over. */
  drain(): number {
    const before = this.walkCounts[WALKED_RECORDS];
    const mask = BigInt(this.mask);
    for (;;) {
      const available = Number(Atomics.load(this.producerPosition, 0) - this.consumed);
      if (available === 0) break;
      const walked = this.walk(this.view, this.words, Number(this.consumed & mask), available, this.mask);
      if (walked === 0) break;
      this.consumed += BigInt(walked);
      Atomics.store(this.consumerPosition, 0, this.consumed);
      this.batches++;
    }
    this.lastDrainMs = Date.now();
    return this.walkCounts[WALKED_RECORDS] - before;
  }

  /** Stops the timer and the readiness watch, after a last drain so nothing waiting is dropped. */
  stop(): void {
    this.drain();
    this.reader.close();
  }
}
