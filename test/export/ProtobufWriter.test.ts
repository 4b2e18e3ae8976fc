// The wire format by hand, byte for byte against protobufjs' writer: varints
// at their byte boundaries and past 32 bits, zigzag, doubles, strings, and
// the lengths of submessages that need more than the byte begin() leaves.
import protobuf from 'protobufjs';
import t from 'tap';

import { ProtobufWriter, varintSize, zigzag } from '../../src/export/ProtobufWriter';

const VARINTS = [
  0,
  1,
  127,
  128,
  300,
  16383,
  16384,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 35 + 7,
  2 ** 53 - 1,
];

void t.test('varints and zigzag, as protobufjs writes them', (t) => {
  for (const value of VARINTS) {
    const ours = new ProtobufWriter(16);
    ours.uintField(1, value);
    const theirs = protobuf.Writer.create().uint32(8).uint64(value).finish();
    t.strictSame([...ours.finish()], [...theirs], `uint64 ${value}`);
    t.equal(varintSize(value), theirs.length - 1, `varintSize(${value})`);
  }
  for (const value of [0, -1, 1, -64, 64, -(2 ** 31), 2 ** 31 - 1, -(2 ** 40), 2 ** 40, -(2 ** 52)]) {
    const ours = new ProtobufWriter(16);
    ours.sintField(13, value);
    const theirs = protobuf.Writer.create().uint32(104).sint64(value).finish();
    t.strictSame([...ours.finish()], [...theirs], `sint64 ${value} (zigzag ${zigzag(value)})`);
  }
  t.end();
});

void t.test('doubles, strings and nested lengths of 1, 2 and 3 bytes, growing from a tiny buffer', (t) => {
  for (const size of [0, 127, 128, 16383, 16384, 70000]) {
    const text = 'é'.repeat(size >> 1) + 'x'.repeat(size & 1);
    const ours = new ProtobufWriter(1);
    const outer = ours.begin(4);
    ours.doubleField(2, -1.5);
    const inner = ours.begin(1);
    ours.stringField(2, text);
    ours.end(inner);
    ours.end(outer);
    const inside = protobuf.Writer.create().uint32(18).string(text).finish();
    const body = protobuf.Writer.create().uint32(17).double(-1.5).uint32(10).bytes(inside).finish();
    const theirs = protobuf.Writer.create().uint32(34).bytes(body).finish();
    t.strictSame(Buffer.compare(ours.finish(), theirs), 0, `a ${size}-byte string two levels down`);
  }
  t.end();
});

void t.test('delimited messages, one after another', (t) => {
  const ours = new ProtobufWriter(1);
  for (const text of ['a', 'b'.repeat(200)]) {
    const message = ours.beginDelimited();
    ours.stringField(1, text);
    ours.end(message);
  }
  const theirs = protobuf.Writer.create();
  for (const text of ['a', 'b'.repeat(200)]) theirs.fork().uint32(10).string(text).ldelim();
  t.strictSame(Buffer.compare(ours.finish(), theirs.finish()), 0);
  t.end();
});
