import type { ProbeDefinition } from './ProbeDefinition';
import { syscallsProbe } from './syscalls';

/**
 * Syscall counts and errors without latency: one program at sys_exit and no
 * clock reads, for about three quarters of the syscalls probe's cost to a
 * service (bench/README.md, Cost to a real service). Part of `syscalls`, so
 * selecting both runs `syscalls` only.
 */
export const syscallCountsProbe: ProbeDefinition = {
  name: 'syscall_counts',
  summary: 'syscall counts and errors, by syscall, without latency (the cheapest per-syscall probe)',
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
