import type { ProbeDefinition } from './ProbeDefinition';
import { syscallsProbe } from './syscalls';

/**
 * Syscall counts and errors without latency: one program at sys_exit and no
 * clock reads, for about half the syscalls probe's cost to the traced
 * workload (bench/README.md). Part of `syscalls`, so selecting both runs
 * `syscalls` only.
 */
export const syscallCountsProbe: ProbeDefinition = {
  name: 'syscall_counts',
  summary: 'syscall counts and errors, by syscall, without latency (half the cost of syscalls)',
  cost: 'per-syscall',
  object: syscallsProbe.object,
  subsetOf: syscallsProbe.name,
  skipMaps: ['syscall_starts', 'syscall_task_starts', 'syscall_stats'],
  cgroupKeys: true,
  attach: [
    {
      name: 'sys_exit',
      variants: [
        { kind: 'tp_btf', program: 'syscall_counts_tp_btf' },
        { kind: 'raw_tp', program: 'syscall_counts_raw_tp', target: 'sys_exit' },
        { kind: 'tracepoint', program: 'syscall_counts_tracepoint', target: 'raw_syscalls/sys_exit' },
      ],
    },
  ],
  recordMetrics: [],
  // The syscalls probe's counters, read from the same maps; no latency histogram.
  mapMetrics: syscallsProbe.mapMetrics.filter((metric) => metric.type === 'counter'),
};
