// Moves records from a probe's ring buffer into its sink without copying: the
// sink reads each record in place in the mapped ring, and the space goes back
// to the kernel once per batch. The kernel wakes us once `wakeupBytes` wait; a
// timer drains whatever is left, which bounds latency when traffic is light.
import type { NativeBpfObject, NativeRingReader } from '../native/addon';
import { addon } from '../native/addon';

export interface RecordSink {
  /**
   * One record: `length` bytes at `offset` in `view`, which `words` views as
   * int32s (records start 8-byte aligned). Called in ring order; the bytes are
   * valid only during the call.
   */
  onRecord(view: DataView, words: Int32Array, offset: number, length: number): void;
}

export interface DrainSettings {
  intervalMs: number;
}

const HEADER_BYTES = 8; // BPF_RINGBUF_HDR_SZ
const DISCARDED = 1 << 30; // BPF_RINGBUF_DISCARD_BIT
const LENGTH_MASK = DISCARDED - 1;

export class RingDrain {
  private readonly reader: NativeRingReader;
  private readonly view: DataView;
  private readonly words: Int32Array;
  private readonly mask: number;
  private offset: number;
  private timer: NodeJS.Timeout | undefined;
  /** Records handed to the sink. */
  records = 0;
  /** Batches: ready/commit rounds that found records. */
  batches = 0;
  /** When the ring was last drained (ms since epoch). */
  lastDrainMs = 0;

  constructor(
    object: NativeBpfObject,
    private readonly sink: RecordSink,
    private readonly settings: DrainSettings,
  ) {
    this.reader = new addon.RingReader(object, 'events');
    this.view = new DataView(this.reader.data);
    this.words = new Int32Array(this.reader.data);
    this.mask = this.reader.size - 1;
    this.offset = this.reader.offset();
  }

  start(): void {
    this.reader.watch(() => this.drain());
    this.timer = setInterval(() => this.drain(), this.settings.intervalMs);
  }

  /** Drains until the ring is empty; returns the records handed over. */
  drain(): number {
    const { view, words, mask, sink } = this;
    let total = 0;
    for (let ready = this.reader.ready(); ready > 0; ready = this.reader.ready()) {
      const start = this.offset;
      let walked = 0;
      while (walked < ready) {
        const at = (start + walked) & mask;
        const header = words[at >> 2];
        const length = header & LENGTH_MASK;
        if ((header & DISCARDED) === 0) {
          sink.onRecord(view, words, at + HEADER_BYTES, length);
          total++;
        }
        walked += (length + HEADER_BYTES + 7) & ~7;
      }
      this.reader.commit(walked);
      this.offset = (start + walked) & mask;
      this.batches++;
    }
    this.records += total;
    this.lastDrainMs = Date.now();
    return total;
  }

  /** Stops the timer and the poll, after a last drain so nothing waiting is dropped. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.drain();
    this.reader.close();
  }
}
