import type { ProbeDefinition } from './ProbeDefinition';

/**
 * Process executions, from sched_process_exec: the exec programs of
 * bpf/process.bpf.c alone (its fork and exit programs are not loaded). Part
 * of the `process` probe, so selecting both runs `process` only.
 */
export const execProbe = {
  name: 'exec',
  summary: 'successful execve() calls, by command name',
  cost: 'per-event',
  object: 'process.bpf.o',
  subsetOf: 'process',
  record: { struct: 'exec_record', type: 'KS_RECORD_EXEC', version: 1 },
  trace: {
    optIn: false,
    columns: [
      { name: 'ppid', heading: 'PPID', width: 7, value: (r) => r.ppid as number },
      { name: 'uid', heading: 'UID', width: 6, value: (r) => r.uid as number },
      { name: 'filename', heading: 'FILENAME', width: 0, value: (r) => r.filename as string, last: true },
    ],
  },
  attach: [
    {
      name: 'sched_process_exec',
      variants: [
        { kind: 'tp_btf', program: 'exec_tp_btf' },
        { kind: 'raw_tp', program: 'exec_raw_tp', target: 'sched_process_exec' },
        { kind: 'tracepoint', program: 'exec_tracepoint', target: 'sched/sched_process_exec' },
      ],
    },
  ],
  recordMetrics: [
    {
      type: 'counter',
      name: 'kernscope_process_execs_total',
      help: 'Successful execve() calls; by the new command name (comm) when that label is enabled.',
      labels: { comm: 'comm' },
      optionalLabels: ['comm'],
      cgroupField: 'hdr.cgroup_id',
    },
  ],
  mapMetrics: [],
} satisfies ProbeDefinition;
