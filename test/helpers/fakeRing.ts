// A BPF ring buffer's data area as RingDrain sees it once mapped (see
// NativeRingReader): `size` bytes of data pages twice in a row, so a record
// starting anywhere in the first copy is contiguous. Records are written the
// way the kernel lays them out: an 8-byte header (u32 length with the busy
// and discard bits, u32 page offset), the record, padding to 8 bytes.

export const RING_HEADER_BYTES = 8;
export const BUSY_BIT = 0x80000000;
export const DISCARD_BIT = 0x40000000;

/** One record as written: its header's length word (bits included) and the bytes after the header. */
export interface RingRecord {
  header: number;
  body: Uint8Array;
}

/** Bytes a record of `length` takes in the ring, header and padding included. */
export function ringSpan(length: number): number {
  return (length + RING_HEADER_BYTES + 7) & ~7;
}

export class FakeRing {
  readonly mask: number;
  private readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly words: Int32Array;

  /** A ring of `size` bytes (a power of two) filled with `stale` bytes (what earlier laps left). */
  constructor(
    readonly size: number,
    stale: Uint8Array,
  ) {
    this.mask = size - 1;
    const buffer = new ArrayBuffer(2 * size);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.words = new Int32Array(buffer);
    for (let i = 0; i < size; i++) this.setByte(i, stale[i % stale.length]);
  }

  /** Writes `records` one after the other from byte `start` (wrapping); returns the bytes they span. */
  write(start: number, records: readonly RingRecord[]): number {
    let at = start;
    for (const { header, body } of records) {
      for (let i = 0; i < 4; i++) this.setByte(at + i, (header >>> (8 * i)) & 0xff);
      for (let i = 0; i < body.length; i++) this.setByte(at + RING_HEADER_BYTES + i, body[i]);
      at += ringSpan(header & (DISCARD_BIT - 1));
    }
    return at - start;
  }

  /** Both copies of the data pages hold every byte. */
  private setByte(offset: number, value: number): void {
    const at = offset & this.mask;
    this.bytes[at] = value;
    this.bytes[at + this.size] = value;
  }
}
