// Record layouts come from the BPF object's BTF, so the C struct in bpf/<probe>.h
// is the only definition: nothing here can drift from it.
import type { BtfMember, BtfStruct, NativeBpfObject } from '../native/addon';

export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64' | 'string' | 'bytes';

export interface Field {
  /** Dotted path for nested structs: `hdr.tgid`. */
  name: string;
  offset: number;
  size: number;
  kind: FieldKind;
}

function scalarKind(member: Pick<BtfMember, 'size' | 'signed'>): FieldKind | undefined {
  const bits = member.size * 8;
  if (![8, 16, 32, 64].includes(bits)) return undefined;
  return `${member.signed ? 's' : 'u'}${bits}` as FieldKind;
}

function fieldKind(member: BtfMember): FieldKind {
  if (member.kind === 'int') return scalarKind(member) ?? 'bytes';
  // char[N] is a NUL-terminated string; other arrays stay raw bytes.
  if (member.kind === 'array' && member.element?.kind === 'int' && member.element.size === 1) return 'string';
  return 'bytes';
}

export class RecordLayout {
  private readonly fields = new Map<string, Field>();

  constructor(
    readonly name: string,
    readonly size: number,
    fields: Field[],
  ) {
    for (const field of fields) this.fields.set(field.name, field);
  }

  /** Reads `struct name` (and nested structs) from the object's BTF. */
  static fromObject(object: NativeBpfObject, struct: string): RecordLayout {
    const fields: Field[] = [];
    const visit = (btf: BtfStruct, prefix: string, base: number): void => {
      for (const member of btf.members) {
        const name = prefix + member.name;
        if (member.bitfield) continue; // never used in records: fixed-width types only
        if (member.kind === 'struct' && member.typeName) {
          visit(object.recordLayout(member.typeName), `${name}.`, base + member.offset);
        } else {
          fields.push({ name, offset: base + member.offset, size: member.size, kind: fieldKind(member) });
        }
      }
    };
    const root = object.recordLayout(struct);
    visit(root, '', 0);
    return new RecordLayout(struct, root.size, fields);
  }

  /** The field, or an error naming the struct and the fields it does have. */
  field(name: string): Field {
    const field = this.fields.get(name);
    if (!field) {
      throw new Error(`struct ${this.name} has no field '${name}' (fields: ${[...this.fields.keys()].join(', ')})`);
    }
    return field;
  }

  allFields(): Field[] {
    return [...this.fields.values()];
  }
}
