import { errnoName, latencyMs, syscallName } from './formats';
import type { ProbeDefinition } from './ProbeDefinition';

/** Slot edges 2^-20 .. 2^0 s (0.95 us .. 1 s), every other octave. */
export const SYSCALL_LATENCY_BOUNDS = Array.from({ length: 11 }, (_, i) => 2 ** (-20 + 2 * i));

/** The errno name of a failed call's return value (-4095..-1, the kernel's error range), else "". */
function errnoOf(ret: number): string {
  return ret < 0 && ret >= -4095 ? errnoName(-ret) : '';
}

/**
 * Syscall counts, latency and errors per syscall (bpf/syscalls.bpf.c),
 * aggregated in per-CPU maps: syscalls are too hot for a ring record each.
 * Counted at sys_exit, so calls that never return (exit, exit_group, a
 * successful execve's old image) are not counted. `kernscope trace syscalls`
 * gets a ring record per call (struct syscall_trace_record) on top.
 */
export const syscallsProbe: ProbeDefinition = {
  name: 'syscalls',
  summary: 'syscall counts, latency and errors, by syscall (aggregated in the kernel)',
  cost: 'per-syscall',
  object: 'syscalls.bpf.o',
  record: { struct: 'syscall_trace_record', type: 'KS_RECORD_SYSCALL', version: 1 },
  trace: {
    optIn: true,
    minLatency: true,
    columns: [
      { name: 'syscall', heading: 'SYSCALL', width: 16, value: (r) => syscallName(r.id as number) },
      { name: 'ret', heading: 'RET', width: 8, value: (r) => r.ret as number },
      { name: 'errno', heading: 'ERRNO', width: 7, value: (r) => errnoOf(r.ret as number) },
      { name: 'latency_ms', heading: 'LAT(ms)', width: 0, value: (r) => latencyMs(r.latency_ns as number), last: true },
    ],
  },
  // Enter and exit share each thread's start time: tp_btf keeps it in task
  // storage, the older kinds in a hash keyed by thread id.
  sameKindAtEveryPoint: true,
  cgroupKeys: true,
  latencySampling: true,
  attach: (['enter', 'exit'] as const).map((phase) => ({
    name: `sys_${phase}`,
    variants: [
      { kind: 'tp_btf', program: `syscalls_${phase}_tp_btf`, maps: ['syscall_task_starts'] },
      { kind: 'raw_tp', program: `syscalls_${phase}_raw_tp`, target: `sys_${phase}`, maps: ['syscall_starts'] },
      {
        kind: 'tracepoint',
        program: `syscalls_${phase}_tracepoint`,
        target: `raw_syscalls/sys_${phase}`,
        maps: ['syscall_starts'],
      },
    ],
  })),
  recordMetrics: [],
  mapMetrics: [
    {
      type: 'counter',
      name: 'kernscope_syscalls_total',
      help: 'Completed syscalls, by syscall name and, with attribution, the calling namespace, pod and container.',
      map: 'syscall_counts',
      key: 'syscall_count_key',
      value: 'syscall_count',
      field: 'count',
      labels: { syscall: { field: 'id', format: syscallName } },
      cgroupField: 'cgroup_id',
    },
    {
      type: 'histogram',
      name: 'kernscope_syscall_duration_seconds',
      help:
        'Syscall latency (sys_enter to sys_exit) of the sampled calls, 1 in --syscall-latency-every per CPU ' +
        '(kernscope_syscalls_total counts every call), by syscall name; buckets are in-kernel log2 slot edges.',
      map: 'syscall_stats',
      key: 'syscall_key',
      value: 'syscall_stats',
      slots: 'slots',
      sum: 'sum_ns',
      scale: 1e-9,
      bounds: SYSCALL_LATENCY_BOUNDS,
      labels: { syscall: { field: 'id', format: syscallName } },
    },
    {
      type: 'counter',
      name: 'kernscope_syscall_errors_total',
      help: 'Syscalls that returned an error, by syscall name and errno name.',
      map: 'syscall_errors',
      key: 'syscall_error_key',
      value: 'syscall_error_stats',
      field: 'count',
      labels: { syscall: { field: 'id', format: syscallName }, errno: { field: 'err', format: errnoName } },
    },
  ],
};
