// Ring records copied out as a RingDrain hands them over, and decoded by the
// layout read from the object's BTF: for tests that check record fields.
import type { RecordLayout } from '../../src/decode/RecordLayout';
import { readField } from '../../src/decode/readField';
import type { RecordSink } from '../../src/drain/RecordLoop';
import { callbackSink } from '../../src/drain/RecordLoop';

export type DecodedRecord = Record<string, number | string | Uint8Array>;

export class RecordCollector {
  readonly records: DataView[] = [];
  readonly sink: RecordSink = callbackSink((view, _words, record, length) => {
    const start = view.byteOffset + record;
    this.records.push(new DataView(view.buffer.slice(start, start + length)));
  });

  /** Every record so far, each field by its dotted name (`hdr.tgid`, `comm`). */
  decoded(layout: RecordLayout): DecodedRecord[] {
    return this.records.map((view) =>
      Object.fromEntries(layout.allFields().map((field) => [field.name, readField(view, 0, field)])),
    );
  }
}
