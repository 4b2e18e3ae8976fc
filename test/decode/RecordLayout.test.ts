// RecordLayout from hand-given descriptions: no kernel, no BPF object.
import t from 'tap';

import type { BtfMember, BtfStruct, NativeBpfObject } from '../../src/native/addon';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { EXEC_FIELDS, handExecLayout } from '../helpers/records';

void t.test('constructed from fields', (t) => {
  const layout = handExecLayout();
  t.equal(layout.name, 'exec_record');
  t.equal(layout.size, 184);
  t.same(layout.field('hdr.tgid'), { name: 'hdr.tgid', offset: 20, size: 4, kind: 'u32' });
  t.same(layout.field('comm'), { name: 'comm', offset: 40, size: 16, kind: 'string' });
  t.same(layout.allFields(), EXEC_FIELDS, 'allFields keeps declaration order');
  t.throws(() => layout.field('nope'), {
    message: /struct exec_record has no field 'nope' \(fields: hdr\.type, .*filename\)/,
  });
  t.end();
});

/** A NativeBpfObject that only answers recordLayout(), from a table of BtfStruct descriptions. */
function btfObject(structs: BtfStruct[]): NativeBpfObject {
  const byName = new Map(structs.map((s) => [s.name, s]));
  const recordLayout = (name: string): BtfStruct => {
    const found = byName.get(name);
    if (!found) throw new TypeError(`no struct '${name}'`);
    return found;
  };
  return { recordLayout } as unknown as NativeBpfObject;
}

const int = (name: string, offset: number, size: number, signed = false): BtfMember => ({
  name,
  offset,
  size,
  bitfield: false,
  kind: 'int',
  signed,
});

void t.test('fromObject: BtfStruct descriptions -> flat typed fields', (t) => {
  const inner: BtfStruct = {
    name: 'inner',
    size: 8,
    members: [int('a', 0, 2), int('b', 4, 4, true)],
  };
  const outer: BtfStruct = {
    name: 'outer',
    size: 64,
    members: [
      { name: 'hdr', offset: 0, size: 8, bitfield: false, kind: 'struct', typeName: 'inner' },
      int('u8', 8, 1),
      int('s8', 9, 1, true),
      int('s16', 10, 2, true),
      int('u64', 16, 8),
      int('s64', 24, 8, true),
      int('odd', 32, 3), // a 24-bit integer has no DataView getter: raw bytes
      {
        name: 'name',
        offset: 36,
        size: 12,
        bitfield: false,
        kind: 'array',
        count: 12,
        element: { size: 1, kind: 'int', signed: true },
      },
      {
        name: 'words',
        offset: 48,
        size: 8,
        bitfield: false,
        kind: 'array',
        count: 2,
        element: { size: 4, kind: 'int', signed: false },
      },
      { name: 'flags', offset: 56, size: 4, bitfield: true, kind: 'int', signed: false },
      { name: 'ptr', offset: 56, size: 8, bitfield: false, kind: 'other' },
    ],
  };
  const layout = RecordLayout.fromObject(btfObject([outer, inner]), 'outer');
  t.equal(layout.name, 'outer');
  t.equal(layout.size, 64);
  t.same(layout.allFields(), [
    { name: 'hdr.a', offset: 0, size: 2, kind: 'u16' },
    { name: 'hdr.b', offset: 4, size: 4, kind: 's32' },
    { name: 'u8', offset: 8, size: 1, kind: 'u8' },
    { name: 's8', offset: 9, size: 1, kind: 's8' },
    { name: 's16', offset: 10, size: 2, kind: 's16' },
    { name: 'u64', offset: 16, size: 8, kind: 'u64' },
    { name: 's64', offset: 24, size: 8, kind: 's64' },
    { name: 'odd', offset: 32, size: 3, kind: 'bytes' },
    { name: 'name', offset: 36, size: 12, kind: 'string' },
    { name: 'words', offset: 48, size: 8, kind: 'bytes' },
    { name: 'ptr', offset: 56, size: 8, kind: 'bytes' },
  ]);
  t.throws(() => layout.field('flags'), 'bitfields are left out');
  t.end();
});

void t.test('fromObject: nested struct offsets add up at every depth', (t) => {
  const leaf: BtfStruct = { name: 'leaf', size: 4, members: [int('x', 2, 2)] };
  const mid: BtfStruct = {
    name: 'mid',
    size: 12,
    members: [{ name: 'leaf', offset: 8, size: 4, bitfield: false, kind: 'struct', typeName: 'leaf' }],
  };
  const top: BtfStruct = {
    name: 'top',
    size: 40,
    members: [{ name: 'mid', offset: 16, size: 12, bitfield: false, kind: 'struct', typeName: 'mid' }],
  };
  const layout = RecordLayout.fromObject(btfObject([top, mid, leaf]), 'top');
  t.same(layout.allFields(), [{ name: 'mid.leaf.x', offset: 26, size: 2, kind: 'u16' }]);
  t.end();
});
