import { execProbe } from './exec';
import type { ProbeDefinition } from './ProbeDefinition';

/** enum process_exit_reason (bpf/process.h): process_exit_key.reason. */
const EXIT_REASONS = ['exit', 'signal'];

export function exitReasonName(reason: number): string {
  return EXIT_REASONS[reason] ?? `reason_${reason}`;
}

/**
 * Process lifecycle (bpf/process.bpf.c): execs as ring records (as the `exec`
 * probe, which is this probe's exec part alone), forks and exits counted in
 * per-CPU hashes by cgroup (attributed). Processes, not threads: a fork counts when the child leads
 * a new thread group, an exit when a thread-group leader exits (except the
 * leader an exec in another of its threads replaces).
 */
export const processProbe: ProbeDefinition = {
  name: 'process',
  summary: 'process execs (by command name), forks and exits (normal or by signal)',
  cost: 'per-event',
  object: execProbe.object,
  record: execProbe.record,
  trace: execProbe.trace,
  cgroupKeys: true,
  attach: [
    ...execProbe.attach,
    {
      name: 'sched_process_fork',
      variants: [
        { kind: 'tp_btf', program: 'fork_tp_btf' },
        { kind: 'raw_tp', program: 'fork_raw_tp', target: 'sched_process_fork' },
        // The classic sched_process_fork record cannot tell threads from processes.
        { kind: 'tracepoint', program: 'fork_tracepoint', target: 'task/task_newtask' },
      ],
    },
    {
      name: 'sched_process_exit',
      variants: [
        { kind: 'tp_btf', program: 'exit_tp_btf' },
        { kind: 'raw_tp', program: 'exit_raw_tp', target: 'sched_process_exit' },
        { kind: 'tracepoint', program: 'exit_tracepoint', target: 'sched/sched_process_exit' },
      ],
    },
  ],
  recordMetrics: execProbe.recordMetrics,
  mapMetrics: [
    {
      type: 'counter',
      name: 'kernscope_process_forks_total',
      help: 'New processes (fork, vfork, clone without CLONE_THREAD); threads are not counted.',
      map: 'process_forks',
      key: 'process_fork_key',
      value: 'process_count',
      field: 'count',
      labels: {},
      cgroupField: 'cgroup_id',
    },
    {
      type: 'counter',
      name: 'kernscope_process_exits_total',
      help: 'Process exits (of the thread-group leader), by reason: exit, or signal when killed by one.',
      map: 'process_exits',
      key: 'process_exit_key',
      value: 'process_count',
      field: 'count',
      labels: { reason: { field: 'reason', format: exitReasonName } },
      cgroupField: 'cgroup_id',
    },
  ],
};
