// Turns one probe's records into its metric families. Built once from the
// probe definition and the record layout read from BTF; per record it checks
// the header and feeds each family, with no allocation.
import type { RecordSink } from '../drain/RingDrain';
import type { RecordLayout } from '../decode/RecordLayout';
import type { ProbeDefinition } from '../probes/ProbeDefinition';
import { RecordCounter } from './RecordCounter';

export interface AggregatorSettings {
  maxSeriesPerMetric: number;
}

export class ProbeAggregator implements RecordSink {
  readonly counters: RecordCounter[];
  /** Word index of hdr.type within a record; hdr.version is the high half of that word. */
  private readonly headerWord: number;
  /** hdr.type | hdr.version << 16, as the record's first header word must read. */
  private readonly expectedHeader: number;
  private readonly minLength: number;
  /** Records that were too short or of another type or version: a bug if ever non-zero. */
  invalid = 0;

  constructor(definition: ProbeDefinition, layout: RecordLayout, recordType: number, settings: AggregatorSettings) {
    const type = layout.field('hdr.type');
    const version = layout.field('hdr.version');
    if (type.offset % 4 !== 0 || version.offset !== type.offset + 2 || type.size !== 2 || version.size !== 2) {
      throw new Error(`${layout.name}: hdr.type and hdr.version must be adjacent u16s starting on a 4-byte boundary`);
    }
    this.headerWord = type.offset >> 2;
    this.expectedHeader = recordType | (definition.record.version << 16);
    this.minLength = layout.size;
    this.counters = definition.metrics.map(
      (metric) =>
        new RecordCounter(
          metric.name,
          metric.help,
          Object.entries(metric.labels).map(([label, field]) => ({ label, field: layout.field(field) })),
          settings.maxSeriesPerMetric,
        ),
    );
  }

  onRecord(view: DataView, words: Int32Array, offset: number, length: number): void {
    if (length < this.minLength || words[(offset >> 2) + this.headerWord] !== this.expectedHeader) {
      this.invalid++;
      return;
    }
    const counters = this.counters;
    for (let i = 0; i < counters.length; i++) counters[i].add(view, words, offset);
  }
}
