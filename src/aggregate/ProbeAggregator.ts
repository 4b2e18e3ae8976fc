// Turns one probe's records into its metric families. Built once from the
// probe definition and the record layout read from BTF. Its per-record code
// (header check, then every counter) is compiled into the drain loop.
import type { RecordLayout } from '../decode/RecordLayout';
import type { RecordCode, RecordHandler, RecordSink } from '../drain/RecordLoop';
import { compileRecordHandler } from '../drain/RecordLoop';
import type { ProbeDefinition } from '../probes/ProbeDefinition';
import type { Labels } from './MetricFamily';
import type { LabelSource } from './RecordCounter';
import { RecordCounter } from './RecordCounter';

export interface AggregatorSettings {
  maxSeriesPerMetric: number;
  /** Drop series unchanged for this long at collection (ms); 0 or absent: never. */
  seriesTtlMs?: number;
  /** cgroup id -> namespace, pod, container, for metrics with a `cgroupField`; absent: attribution off. */
  attribution?: (cgroupId: bigint) => Labels;
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
  /** One record at a time, through the same compiled code the drain loop uses. */
  readonly onRecord: RecordHandler;

  constructor(definition: ProbeDefinition, layout: RecordLayout, recordType: number, settings: AggregatorSettings) {
    const record = definition.record;
    if (!record) throw new Error(`probe ${definition.name} emits no records`);
    const type = layout.field('hdr.type');
    const version = layout.field('hdr.version');
    if (type.offset % 4 !== 0 || version.offset !== type.offset + 2 || type.size !== 2 || version.size !== 2) {
      throw new Error(`${layout.name}: hdr.type and hdr.version must be adjacent u16s starting on a 4-byte boundary`);
    }
    this.headerWord = type.offset >> 2;
    this.expectedHeader = recordType | (record.version << 16);
    this.minLength = layout.size;
    const { attribution } = settings;
    this.counters = definition.recordMetrics.map((metric) => {
      const labels: LabelSource[] = Object.entries(metric.labels).map(([label, field]) => ({
        label,
        field: layout.field(field),
      }));
      if (metric.cgroupField && attribution) {
        labels.push({ label: 'cgroup', field: layout.field(metric.cgroupField), expand: attribution });
      }
      return new RecordCounter(metric.name, metric.help, labels, settings.maxSeriesPerMetric, {
        ttlMs: settings.seriesTtlMs ?? 0,
      });
    });
    this.onRecord = compileRecordHandler(this.recordCode());
  }

  recordCode(): RecordCode {
    const header = `words[(record >> 2) + ${this.headerWord}]`;
    return {
      prelude: this.counters.map((_, i) => `const counter${i} = state.counters[${i}];`).join('\n'),
      body: [
        `if (length < ${this.minLength} || ${header} !== ${this.expectedHeader}) { state.invalid++; break thisRecord; }`,
        ...this.counters.map((counter, i) => counter.blockSource(`counter${i}`, `count${i}`)),
      ].join('\n'),
      state: this,
    };
  }
}
