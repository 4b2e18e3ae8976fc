// Turns one probe's records into its metric families. Built once from the
// probe definition and its record resolved against BTF. Its per-record code
// (the record check, then every counter) is compiled into the drain loop.
import type { ResolvedRecord } from '../decode/ResolvedRecord';
import type { RecordCode, RecordSink } from '../drain/RecordLoop';
import type { ProbeDefinition } from '../probes/ProbeDefinition';
import type { FamilySettings } from './FamilySettings';
import type { LabelSource } from './labelCodec';
import { RecordCounter } from './RecordCounter';

export class ProbeAggregator implements RecordSink {
  readonly counters: RecordCounter[];
  /** Records that were too short or of another type or version: a bug if ever non-zero. */
  invalid = 0;

  constructor(
    definition: ProbeDefinition,
    private readonly record: ResolvedRecord,
    settings: FamilySettings,
  ) {
    const { layout } = record;
    const { attribution } = settings;
    this.counters = definition.recordMetrics.map((metric) => {
      const labels: LabelSource[] = Object.entries(metric.labels).map(([label, field]) => ({
        label,
        field: layout.field(field),
      }));
      if (metric.cgroupField && attribution) {
        labels.push({ label: 'cgroup', field: layout.field(metric.cgroupField), expand: attribution });
      }
      return new RecordCounter(metric.name, metric.help, labels, settings.limits);
    });
  }

  recordCode(): RecordCode {
    return {
      prelude: this.counters.map((_, i) => `const counter${i} = state.counters[${i}];`).join('\n'),
      body: [
        `if (!(${this.record.validSource()})) { state.invalid++; break thisRecord; }`,
        ...this.counters.map((counter, i) => counter.blockSource(`counter${i}`, `count${i}`)),
      ].join('\n'),
      state: this,
    };
  }
}
