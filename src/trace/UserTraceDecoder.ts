// A user probe's ring record as a TraceEvent: its fields walked and decoded
// as the config's `trace.labels` say (as map keys are), numbers kept as
// numbers. The record carries no timestamp of ours: the event's time is when
// it was drained (within the trace drain's 50 ms).
import type { ByteLabel, DecodedRecord, TraceDefinition } from '../probes/ProbeDefinition';
import { FILTERED_RECORD, INVALID_RECORD } from './TraceDecoder';
import type { TraceEvent } from './TraceFormat';
import { toEvent } from './TraceFormat';

export class UserTraceDecoder {
  /** Bytes the labels read: a shorter record is invalid. */
  private readonly size: number;

  constructor(
    private readonly probe: string,
    private readonly trace: TraceDefinition,
    private readonly labels: ByteLabel[],
    private readonly commPattern?: RegExp,
  ) {
    this.size = Math.max(0, ...labels.map((label) => label.offset + label.size));
  }

  decode(
    view: DataView,
    _words: Int32Array,
    record: number,
    length: number,
  ): TraceEvent | typeof INVALID_RECORD | typeof FILTERED_RECORD {
    if (length < this.size) return INVALID_RECORD;
    const decoded: DecodedRecord = {};
    for (const label of this.labels) {
      const value = label.decode(new Uint8Array(view.buffer, view.byteOffset + record + label.offset, label.size));
      if (value === undefined) return FILTERED_RECORD; // a regexp that does not match, as for a sample
      decoded[label.name] = /^\d{1,15}$/.test(value) ? Number(value) : value;
    }
    if (this.commPattern && !this.commPattern.test(String(decoded.comm ?? ''))) return FILTERED_RECORD;
    return toEvent(this.probe, this.trace, decoded, Date.now());
  }
}
