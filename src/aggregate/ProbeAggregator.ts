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
  /** Records that were too short or of another type or version: a bug if ever non-zero. */
  invalid = 0;

  constructor(
    definition: ProbeDefinition,
    private readonly layout: RecordLayout,
    private readonly recordType: number,
    settings: AggregatorSettings,
  ) {
    this.typeOffset = layout.field('hdr.type').offset;
    this.versionOffset = layout.field('hdr.version').offset;
    this.version = definition.record.version;
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
      length < this.layout.size ||
      view.getUint16(offset + this.typeOffset, true) !== this.recordType ||
      view.getUint16(offset + this.versionOffset, true) !== this.version
    ) {
      this.invalid++;
      return;
    }
    for (const counter of this.counters) counter.add(view, offset);
  }
}
