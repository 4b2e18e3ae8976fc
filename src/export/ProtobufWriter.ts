// The protobuf wire format, by hand and only what the exposition needs:
// varints, zigzag, fixed64 doubles and length-delimited fields, written into
// one growing Buffer. A submessage's length goes before it but is known only
// after it: begin() leaves one byte for it and end() moves the body up when
// the length needs more (rare: most submessages are under 128 bytes).

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;

/** 2^32, for varints past the 32 bits bitwise operators handle. */
const TWO_32 = 0x100000000;

/** Bytes the varint of `value` (a non-negative integer up to 2^53) takes. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** The zigzag form of a signed integer (sint32, sint64): 0, -1, 1, -2, ... as 0, 1, 2, 3, ... */
export function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export class ProtobufWriter {
  private buffer: Buffer;
  private pos = 0;

  constructor(capacity = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(capacity, 64));
  }

  /** Makes room for `bytes` more. */
  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.pos + bytes));
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }

  /** A non-negative integer up to 2^53 (uint32, uint64, and the zigzag of sint32, sint64). */
  varint(value: number): void {
    this.ensure(10);
    this.pos = this.putVarint(this.pos, value);
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  uintField(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  sintField(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(zigzag(value));
  }

  doubleField(field: number, value: number): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.pos = this.buffer.writeDoubleLE(value, this.pos);
  }

  stringField(field: number, value: string): void {
    const start = this.begin(field);
    this.ensure(value.length * 3);
    this.pos += this.buffer.write(value, this.pos, 'utf8');
    this.end(start);
  }

  /** Bytes encoded before (whole fields), copied in. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Opens a length-delimited field (a submessage or packed values); returns where its body starts, for end(). */
  begin(field: number): number {
    this.tag(field, WIRE_LEN);
    return this.beginDelimited();
  }

  /** Opens a message with only its length before it (a stream of delimited messages); end() closes it. */
  beginDelimited(): number {
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  /** Closes what begin() or beginDelimited() opened: writes the body's length before it. */
  end(start: number): void {
    const length = this.pos - start;
    const extra = varintSize(length) - 1;
    if (extra > 0) {
      this.ensure(extra);
      this.buffer.copyWithin(start + extra, start, this.pos);
      this.pos += extra;
    }
    this.putVarint(start - 1, length);
  }

  /** How many bytes are written. */
  get length(): number {
    return this.pos;
  }

  /** Drops what was written after the first `length` bytes. */
  truncate(length: number): void {
    this.pos = length;
  }

  /** A copy of bytes written, from `start` to the end, to be written again with raw(). */
  copyFrom(start: number): Buffer {
    return Buffer.from(this.buffer.subarray(start, this.pos));
  }

  /** Writes the varint at `pos`, which has room for it; returns where it ends. */
  private putVarint(pos: number, value: number): number {
    const buffer = this.buffer;
    while (value >= TWO_32) {
      buffer[pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    while (value > 0x7f) {
      buffer[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buffer[pos++] = value;
    return pos;
  }

  /** Everything written, without a copy: the writer must not be used after. */
  finish(): Buffer {
    return this.buffer.subarray(0, this.pos);
  }
}
