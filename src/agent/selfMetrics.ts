// kernscope's own health: events, losses, which probes run and how.
import type { MetricFamily, Sample } from '../aggregate/MetricFamily';
import { ComputedFamily } from '../aggregate/MetricFamily';
import { buildInfo } from '../kernel/system';
import { lostEventsOf } from '../load/lostEvents';
import type { FailedProbe, RunningProbe } from './RunningProbe';

type RecordPath = NonNullable<RunningProbe['records']>;

/** What the self metrics read of the agent. */
export interface AgentState {
  readonly running: readonly RunningProbe[];
  readonly failed: readonly FailedProbe[];
  readonly options: { readonly bpfStats: boolean };
}

export function selfMetricFamilies(agent: AgentState): MetricFamily[] {
  const perProbe = (value: (p: RunningProbe) => number) => (): Sample[] =>
    agent.running.map((p) => ({ labels: { probe: p.loaded.definition.name }, value: value(p) }));
  // Ring counters exist only for probes that emit records.
  const perRecordProbe = (value: (records: RecordPath) => number) => (): Sample[] =>
    agent.running.flatMap((p) =>
      p.records ? [{ labels: { probe: p.loaded.definition.name }, value: value(p.records) }] : [],
    );
  const info = buildInfo();

  const families: MetricFamily[] = [
    new ComputedFamily(
      'kernscope_events_total',
      'Records drained from the probe ring buffer.',
      'counter',
      perRecordProbe((r) => r.drain.records),
    ),
    new ComputedFamily(
      'kernscope_decode_errors_total',
      'Ring records that could not be decoded: too short, of another record type or layout version, or a ring header with an impossible length (the rest of that batch skipped). A bug if ever non-zero.',
      'counter',
      perRecordProbe((r) => r.aggregator.invalid + r.drain.corruptHeaders),
    ),
    new ComputedFamily(
      'kernscope_events_lost_total',
      'Events the kernel could not record: failed ring reservations, full in-kernel tables, or probe runs the kernel skipped as re-entrant (lost, never silently).',
      'counter',
      perProbe((p) => lostEventsOf(p.loaded.object)),
    ),
    new ComputedFamily(
      'kernscope_drain_batches_total',
      'Native drain calls that returned records (events_total / this = records per call).',
      'counter',
      perRecordProbe((r) => r.drain.batches),
    ),
    new ComputedFamily(
      'kernscope_probe_up',
      'Whether the probe is attached (1) or could not attach (0).',
      'gauge',
      () => [
        ...agent.running.map((p) => ({ labels: { probe: p.loaded.definition.name }, value: 1 })),
        ...agent.failed.map((f) => ({ labels: { probe: f.name }, value: 0 })),
      ],
    ),
    new ComputedFamily('kernscope_probe_info', 'The attach variant each probe program uses (value 1).', 'gauge', () =>
      agent.running.flatMap((p) =>
        p.loaded.chosen.map(({ variant }) => ({
          labels: { probe: p.loaded.definition.name, program: variant.program, attach: variant.kind },
          value: 1,
        })),
      ),
    ),
    new ComputedFamily(
      'kernscope_series_overflow_total',
      'What was counted under __overflow__ because a metric reached its series cap: records for metrics of ring records, what the kernel added for metrics of kernel maps (events, or histogram observations).',
      'counter',
      () =>
        agent.running.flatMap((p) =>
          p.families.flatMap((f) => (f.policy ? [{ labels: { metric: f.name }, value: f.policy.overflowCount }] : [])),
        ),
    ),
    new ComputedFamily(
      'kernscope_build_info',
      'kernscope, libbpf, Node.js and kernel versions (value 1).',
      'gauge',
      () => [{ labels: { ...info }, value: 1 }],
    ),
  ];
  if (agent.options.bpfStats) {
    const stats = (pick: (s: { runCount: number; runTimeNs: number }) => number) => (): Sample[] =>
      agent.running.flatMap((p) =>
        p.loaded.object.programStats().map((s) => ({
          labels: { probe: p.loaded.definition.name, program: s.name },
          value: pick(s),
        })),
      );
    families.push(
      new ComputedFamily(
        'kernscope_bpf_program_runs_total',
        'Times each BPF program ran (BPF_ENABLE_STATS).',
        'counter',
        stats((s) => s.runCount),
      ),
      new ComputedFamily(
        'kernscope_bpf_program_run_seconds_total',
        'Kernel time spent in each BPF program (BPF_ENABLE_STATS).',
        'counter',
        stats((s) => s.runTimeNs / 1e9),
      ),
    );
  }
  return families;
}
