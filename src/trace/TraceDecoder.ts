// Turns one probe's trace record into a TraceEvent: checks the record's length
// and header against the layout read from BTF, decodes every field, applies
// what only user space can filter (a comm pattern) and names the columns.
import type { Field, RecordLayout } from '../decode/RecordLayout';
import { readField } from '../decode/readField';
import type { DecodedRecord, TraceDefinition } from '../probes/ProbeDefinition';
import type { TraceEvent } from './TraceFormat';
import { monotonicToWallMs, toEvent } from './TraceFormat';

/** A record too short, or of another record type or layout version: a bug if ever seen. */
export const INVALID_RECORD = 'invalid';
/** A valid record whose comm the pattern does not match. */
export const FILTERED_RECORD = 'filtered';

export class TraceDecoder {
  private readonly fields: Field[];
  private readonly typeField: Field;
  private readonly versionField: Field;
  private readonly tsField: Field;

  constructor(
    private readonly probe: string,
    private readonly trace: TraceDefinition,
    private readonly layout: RecordLayout,
    /** The probe's record type (its value in the object's `enum ks_record_type`). */
    private readonly type: number,
    private readonly commPattern?: RegExp,
  ) {
    this.fields = layout.allFields();
    this.typeField = layout.field('hdr.type');
    this.versionField = layout.field('hdr.version');
    this.tsField = layout.field('hdr.ts_ns');
  }

  /** The event of the `length`-byte record at `record` in `view`. */
  decode(view: DataView, record: number, length: number): TraceEvent | typeof INVALID_RECORD | typeof FILTERED_RECORD {
    if (
      length < this.layout.size ||
      readField(view, record, this.typeField) !== this.type ||
      readField(view, record, this.versionField) !== this.trace.record.version
    ) {
      return INVALID_RECORD;
    }
    const decoded: DecodedRecord = {};
    for (const field of this.fields) decoded[field.name] = readField(view, record, field);
    if (this.commPattern && !this.commPattern.test(decoded.comm as string)) return FILTERED_RECORD;
    const timeMs = monotonicToWallMs(readField(view, record, this.tsField) as number);
    return toEvent(this.probe, this.trace, decoded, timeMs);
  }
}
