// Turns one probe's trace record into a TraceEvent: checks the record
// (ResolvedRecord, the aggregator's check), decodes every field, applies
// what only user space can filter (a comm pattern) and names the columns.
import type { Field } from '../decode/RecordLayout';
import { readField } from '../decode/readField';
import type { ResolvedRecord } from '../decode/ResolvedRecord';
import type { DecodedRecord, TraceDefinition } from '../probes/ProbeDefinition';
import type { TraceEvent } from './TraceFormat';
import { monotonicToWallMs, toEvent } from './TraceFormat';

/** A record too short, or of another record type or layout version: a bug if ever seen. */
export const INVALID_RECORD = 'invalid';
/** A valid record whose comm the pattern does not match. */
export const FILTERED_RECORD = 'filtered';

export class TraceDecoder {
  private readonly fields: Field[];
  private readonly tsField: Field;

  constructor(
    private readonly probe: string,
    private readonly trace: TraceDefinition,
    private readonly record: ResolvedRecord,
    private readonly commPattern?: RegExp,
  ) {
    this.fields = record.layout.allFields();
    this.tsField = record.layout.field('hdr.ts_ns');
  }

  /** The event of the `length`-byte record at `record` in `view` (`words` over the same memory). */
  decode(
    view: DataView,
    words: Int32Array,
    record: number,
    length: number,
  ): TraceEvent | typeof INVALID_RECORD | typeof FILTERED_RECORD {
    if (!this.record.isValid(words, record, length)) return INVALID_RECORD;
    const decoded: DecodedRecord = {};
    for (const field of this.fields) decoded[field.name] = readField(view, record, field);
    if (this.commPattern && !this.commPattern.test(decoded.comm as string)) return FILTERED_RECORD;
    const timeMs = monotonicToWallMs(readField(view, record, this.tsField) as number);
    return toEvent(this.probe, this.trace, decoded, timeMs);
  }
}
