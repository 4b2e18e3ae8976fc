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
  private readonly typeOffset: number;
  private readonly versionOffset: number;
  private readonly version: number;
  private readonly minLength: number;
  /** Records that were too short or of another type or version: a bug if ever non-zero. */
  invalid = 0;
  /** Int32 view of the memory behind the last DataView seen (the ring's, in practice). */
  private view: DataView | undefined;
  private words: Int32Array<ArrayBufferLike> = new Int32Array(0);

  constructor(
    definition: ProbeDefinition,
    layout: RecordLayout,
    private readonly recordType: number,
    settings: AggregatorSettings,
  ) {
    this.typeOffset = layout.field('hdr.type').offset;
    this.versionOffset = layout.field('hdr.version').offset;
    this.version = definition.record.version;
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

  onRecord(view: DataView, offset: number, length: number): void {
    if (
      length < this.minLength ||
      view.getUint16(offset + this.typeOffset, true) !== this.recordType ||
      view.getUint16(offset + this.versionOffset, true) !== this.version
    ) {
      this.invalid++;
      return;
    }
    if (view !== this.view) {
      this.view = view;
      this.words = new Int32Array(view.buffer, view.byteOffset, view.byteLength >> 2);
    }
    const counters = this.counters;
    for (let i = 0; i < counters.length; i++) counters[i].add(view, this.words, offset);
  }
}
