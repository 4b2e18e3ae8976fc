// readField / readCString on known bytes, including a DataView that does not
// start at its buffer's first byte (as a view into a batch buffer may not).
import t from 'tap';

import type { Field } from '../../src/decode/RecordLayout';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { readCString, readField } from '../../src/decode/readField';

// One record, little-endian, every kind. Offsets written out by hand.
const FIELDS: Field[] = [
  { name: 'u8', offset: 0, size: 1, kind: 'u8' },
  { name: 's8', offset: 1, size: 1, kind: 's8' },
  { name: 'u16', offset: 2, size: 2, kind: 'u16' },
  { name: 's16', offset: 4, size: 2, kind: 's16' },
  { name: 'u32', offset: 8, size: 4, kind: 'u32' },
  { name: 's32', offset: 12, size: 4, kind: 's32' },
  { name: 'u64', offset: 16, size: 8, kind: 'u64' },
  { name: 's64', offset: 24, size: 8, kind: 's64' },
  { name: 'str', offset: 32, size: 8, kind: 'string' },
  { name: 'full', offset: 40, size: 4, kind: 'string' },
  { name: 'raw', offset: 44, size: 4, kind: 'bytes' },
];
// prettier-ignore
const RECORD = [
  0xfe,                                            // u8  254
  0xfe,                                            // s8  -2
  0x34, 0x12,                                      // u16 0x1234
  0xff, 0x7f,                                      // s16 32767
  0, 0,                                            // pad
  0x78, 0x56, 0x34, 0x12,                          // u32 0x12345678
  0xfe, 0xff, 0xff, 0xff,                          // s32 -2
  0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,  // u64 2^52 + 1
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // s64 -1
  0x62, 0x61, 0x73, 0x68, 0x00, 0x5a, 0x5a, 0x5a,  // "bash\0ZZZ"
  0x61, 0x62, 0x63, 0x64,                          // "abcd": no NUL, fills the field
  0xde, 0xad, 0xbe, 0xef,                          // raw bytes
];
const EXPECTED: Record<string, unknown> = {
  u8: 254,
  s8: -2,
  u16: 0x1234,
  s16: 32767,
  u32: 0x12345678,
  s32: -2,
  u64: 2 ** 52 + 1,
  s64: -1,
  str: 'bash',
  full: 'abcd',
  raw: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
};

const layout = new RecordLayout('all_kinds', 48, FIELDS);

void t.test('every kind, record at offset 0', (t) => {
  const view = new DataView(new Uint8Array(RECORD).buffer);
  for (const field of layout.allFields()) t.same(readField(view, 0, field), EXPECTED[field.name], field.name);
  t.end();
});

void t.test('record at a non-zero offset in a view with a non-zero byteOffset', (t) => {
  const PREFIX = 13; // view starts 13 bytes into the buffer
  const RECORD_AT = 24; // record starts 24 bytes into the view
  const buffer = new Uint8Array(PREFIX + RECORD_AT + RECORD.length + 8).fill(0xcc);
  buffer.set(RECORD, PREFIX + RECORD_AT);
  const view = new DataView(buffer.buffer, PREFIX, RECORD_AT + RECORD.length);
  for (const field of layout.allFields()) t.same(readField(view, RECORD_AT, field), EXPECTED[field.name], field.name);
  t.equal(readCString(view, RECORD_AT + 32, 8), 'bash', 'readCString honours the view offset');
  t.end();
});

void t.test('bytes are a copy, not a window on the batch buffer', (t) => {
  const bytes = new Uint8Array(RECORD);
  const view = new DataView(bytes.buffer);
  const raw = readField(view, 0, layout.field('raw')) as Uint8Array;
  bytes[44] = 0;
  t.same(raw, new Uint8Array([0xde, 0xad, 0xbe, 0xef]), 'unchanged after the buffer is reused');
  t.end();
});

void t.test('readCString', (t) => {
  const bytes = new TextEncoder().encode('héllo\0junk');
  const view = new DataView(bytes.buffer);
  t.equal(readCString(view, 0, bytes.length), 'héllo', 'UTF-8, stops at NUL');
  t.equal(readCString(view, 0, 2), 'h\ufffd', 'a cut multi-byte sequence decodes to U+FFFD');
  t.equal(readCString(view, 7, 4), 'junk', 'no NUL: the whole field');
  t.equal(readCString(new DataView(new ArrayBuffer(4)), 0, 4), '', 'all zero: empty');
  t.end();
});
