// An independent reader of an object's BTF: `bpftool -j btf dump file`, with
// member sizes resolved here from the raw type graph.
import { execFileSync } from 'node:child_process';

interface BtfTypeJson {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  vlen?: number;
  members?: { name: string; type_id: number; bits_offset: number; bitfield_size?: number }[];
}

export interface FlatMember {
  /** Dotted path through nested structs, as RecordLayout names fields. */
  name: string;
  offset: number;
  size: number;
}

export interface FlatStruct {
  name: string;
  size: number;
  members: FlatMember[];
}

export class BpftoolBtf {
  private readonly types = new Map<number, BtfTypeJson>();

  constructor(objectPath: string) {
    const out = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', objectPath], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    for (const type of (JSON.parse(out) as { types: BtfTypeJson[] }).types) this.types.set(type.id, type);
  }

  private type(id: number): BtfTypeJson {
    const type = this.types.get(id);
    if (!type) throw new Error(`BTF type id ${id} not found`);
    return type;
  }

  /** Follows typedefs and qualifiers. */
  resolve(id: number): BtfTypeJson {
    let type = this.type(id);
    while (['TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT', 'TYPE_TAG'].includes(type.kind))
      type = this.type(type.type_id!);
    return type;
  }

  sizeOf(id: number): number {
    const type = this.resolve(id);
    switch (type.kind) {
      case 'INT':
      case 'ENUM':
      case 'ENUM64':
      case 'STRUCT':
      case 'UNION':
      case 'FLOAT':
        return type.size!;
      case 'PTR':
        return 8;
      case 'ARRAY':
        return type.nr_elems! * this.sizeOf(type.type_id!);
      default:
        throw new Error(`no size for BTF kind ${type.kind} (id ${id})`);
    }
  }

  struct(name: string): BtfTypeJson {
    const found = [...this.types.values()].filter((t) => t.kind === 'STRUCT' && t.name === name);
    if (found.length !== 1) throw new Error(`expected one struct ${name} in BTF, found ${found.length}`);
    return found[0];
  }

  /** Every leaf member of `struct name`, nested structs flattened with absolute offsets. */
  flatten(name: string): FlatStruct {
    const members: FlatMember[] = [];
    const visit = (struct: BtfTypeJson, prefix: string, base: number): void => {
      for (const m of struct.members ?? []) {
        if (m.bits_offset % 8 !== 0 || (m.bitfield_size ?? 0) !== 0) throw new Error(`${m.name} is a bitfield`);
        const type = this.resolve(m.type_id);
        const offset = base + m.bits_offset / 8;
        if (type.kind === 'STRUCT') visit(type, `${prefix}${m.name}.`, offset);
        else members.push({ name: prefix + m.name, offset, size: this.sizeOf(m.type_id) });
      }
    };
    const root = this.struct(name);
    visit(root, '', 0);
    return { name, size: root.size!, members };
  }
}
