// A probe's ring record, resolved once against its object's BTF: the layout
// of its struct, its value in `enum ks_record_type`, and the one check every
// reader makes before trusting a record (long enough, of this type and of the
// layout version the reader was written for). The aggregator compiles the
// check into the drain loop (validSource), the trace decoder calls it.
import type { NativeBpfObject } from '../native/addon';
import type { RecordSpec } from '../probes/ProbeDefinition';
import { RecordLayout } from './RecordLayout';

export class ResolvedRecord {
  /** Word index of hdr.type within a record; hdr.version is the high half of that word. */
  readonly headerWord: number;
  /** hdr.type | hdr.version << 16, as the record's header word must read. */
  readonly expectedHeader: number;

  constructor(
    readonly layout: RecordLayout,
    /** The record type's value in the object's enum. */
    readonly type: number,
    readonly version: number,
  ) {
    const typeField = layout.field('hdr.type');
    const versionField = layout.field('hdr.version');
    const adjacent = versionField.offset === typeField.offset + 2 && typeField.size === 2 && versionField.size === 2;
    if (typeField.offset % 4 !== 0 || !adjacent) {
      throw new Error(`${layout.name}: hdr.type and hdr.version must be adjacent u16s starting on a 4-byte boundary`);
    }
    this.headerWord = typeField.offset >> 2;
    this.expectedHeader = type | (version << 16);
  }

  static resolve(object: NativeBpfObject, probe: string, spec: RecordSpec): ResolvedRecord {
    const layout = RecordLayout.fromObject(object, spec.struct);
    const type = object.enumValues('ks_record_type')[spec.type];
    if (type === undefined) throw new Error(`${probe}: no ${spec.type} in enum ks_record_type`);
    return new ResolvedRecord(layout, type, spec.version);
  }

  /** The check as an expression over `words`, `record` (byte offset, 8-aligned) and `length`. */
  validSource(): string {
    return `length >= ${this.layout.size} && words[(record >> 2) + ${this.headerWord}] === ${this.expectedHeader}`;
  }

  isValid(words: Int32Array, record: number, length: number): boolean {
    return length >= this.layout.size && words[(record >> 2) + this.headerWord] === this.expectedHeader;
  }
}
