// Reads one field of a record from the shared DataView of a drained batch.
import type { Field } from './RecordLayout';

const utf8 = new TextDecoder('utf-8');

/** A NUL-terminated char[] as a string. */
export function readCString(view: DataView, offset: number, size: number): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, size);
  const end = bytes.indexOf(0);
  return utf8.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** Any field as a JS value: numbers (u64 as number: exact below 2^53), strings, or bytes. */
export function readField(view: DataView, record: number, field: Field): number | string | Uint8Array {
  const at = record + field.offset;
  switch (field.kind) {
    case 'u8':
      return view.getUint8(at);
    case 's8':
      return view.getInt8(at);
    case 'u16':
      return view.getUint16(at, true);
    case 's16':
      return view.getInt16(at, true);
    case 'u32':
      return view.getUint32(at, true);
    case 's32':
      return view.getInt32(at, true);
    case 'u64':
      return Number(view.getBigUint64(at, true));
    case 's64':
      return Number(view.getBigInt64(at, true));
    case 'string':
      return readCString(view, at, field.size);
    case 'bytes':
      return new Uint8Array(view.buffer.slice(view.byteOffset + at, view.byteOffset + at + field.size));
  }
}
