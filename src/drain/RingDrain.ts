// Moves records from a probe's ring buffer into its sink, a batch per native
// call. The kernel wakes us once `wakeupBytes` wait; a timer drains whatever
// is left, which bounds event-to-aggregate latency when traffic is light.
import type { NativeBpfObject, NativeRingReader } from '../native/addon';
import { addon } from '../native/addon';

export interface RecordSink {
  /** One record: `length` bytes at `offset` in `view`. Called in ring order. */
  onRecord(view: DataView, offset: number, length: number): void;
}

export interface DrainSettings {
  batchBytes: number;
  intervalMs: number;
}

const RECORD_PREFIX = 8; // u32 length, u32 zero (see native/ring_reader.h)

export class RingDrain {
  private readonly reader: NativeRingReader;
  private readonly view: DataView;
  private timer: NodeJS.Timeout | undefined;
  /** Records handed to the sink. */
  records = 0;
  /** Native drain calls that returned records. */
  batches = 0;
  /** When the ring was last drained (ms since epoch). */
  lastDrainMs = 0;

  constructor(
    object: NativeBpfObject,
    private readonly sink: RecordSink,
    private readonly settings: DrainSettings,
  ) {
    const batch = new ArrayBuffer(settings.batchBytes);
    this.view = new DataView(batch);
    this.reader = new addon.RingReader(object, 'events', batch);
  }

  start(): void {
    this.reader.watch(() => this.drain());
    this.timer = setInterval(() => this.drain(), this.settings.intervalMs);
  }

  /** Drains until the ring is empty; returns the records handed over. */
  drain(): number {
    const view = this.view;
    let total = 0;
    for (;;) {
      const used = this.reader.drain();
      if (used === 0) break;
      this.batches++;
      for (let offset = 0; offset < used;) {
        const length = view.getUint32(offset, true);
        this.sink.onRecord(view, offset + RECORD_PREFIX, length);
        offset += RECORD_PREFIX + ((length + 7) & ~7);
        total++;
      }
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
