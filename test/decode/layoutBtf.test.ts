// The TS record layout is read from the object's BTF by the addon. Here a
// second, independent BTF reader (bpftool) must agree with it member by member,
// and both must agree with the C _Static_assert sizes in bpf/*.h.
import t from 'tap';

import { RecordLayout } from '../../src/decode/RecordLayout';
import { addon } from '../../src/native/addon';
import { BpftoolBtf } from '../helpers/btf';
import { EXEC_OBJECT, LOADGEN_OBJECT } from '../helpers/paths';

/** _Static_assert(sizeof(...)) in bpf/record.h and bpf/exec.h */
const C_SIZES: Record<string, number> = { exec_record: 184, ks_record_header: 32 };

for (const objectPath of [EXEC_OBJECT, LOADGEN_OBJECT]) {
  void t.test(objectPath.split('/').pop()!, (t) => {
    const object = new addon.BpfObject(objectPath, 'layout');
    t.teardown(() => object.close());
    const btf = new BpftoolBtf(objectPath);

    for (const struct of ['exec_record', 'ks_record_header']) {
      void t.test(struct, (t) => {
        const layout = RecordLayout.fromObject(object, struct);
        const expected = btf.flatten(struct);
        t.equal(layout.size, expected.size, 'struct size agrees with bpftool');
        t.equal(layout.size, C_SIZES[struct], 'struct size agrees with the C _Static_assert');
        t.same(
          layout.allFields().map((f) => f.name),
          expected.members.map((m) => m.name),
          'same members, same order',
        );
        for (const member of expected.members) {
          const field = layout.field(member.name);
          t.same({ offset: field.offset, size: field.size }, { offset: member.offset, size: member.size }, member.name);
        }
        const end = Math.max(...layout.allFields().map((f) => f.offset + f.size));
        t.ok(end <= layout.size, 'every field lies inside the struct');
        t.end();
      });
    }

    void t.test('field kinds the decoder relies on', (t) => {
      const layout = RecordLayout.fromObject(object, 'exec_record');
      const kinds = Object.fromEntries(layout.allFields().map((f) => [f.name, f.kind]));
      t.same(kinds, {
        'hdr.type': 'u16',
        'hdr.version': 'u16',
        'hdr.cpu': 'u32',
        'hdr.ts_ns': 'u64',
        'hdr.pid': 'u32',
        'hdr.tgid': 'u32',
        'hdr.cgroup_id': 'u64',
        ppid: 'u32',
        uid: 'u32',
        comm: 'string',
        filename: 'string',
      });
      t.end();
    });
    t.end();
  });
}
