import { latencyMs } from './formats';
import type { ProbeDefinition } from './ProbeDefinition';

/** Slot edges 2^-20 .. 2^0 s (0.95 us .. 1 s), every octave. */
export const RUNQUEUE_LATENCY_BOUNDS = Array.from({ length: 21 }, (_, i) => 2 ** (-20 + i));

/**
 * Run-queue latency (bpf/runqueue.bpf.c): time from a task becoming runnable
 * (wakeup, new task, or preemption while runnable) until it runs, one
 * histogram aggregated in per-CPU maps (every context switch runs the probe).
 * The pid/cgroup filter selects the waiting task, not the current one.
 * `kernscope trace runqueue` gets a ring record per wait (struct
 * runqueue_trace_record: the task that waited and the one it replaced).
 */
export const runqueueProbe: ProbeDefinition = {
  name: 'runqueue',
  summary: 'run-queue latency: time runnable tasks wait for a CPU (aggregated in the kernel)',
  cost: 'per-switch',
  object: 'runqueue.bpf.o',
  record: { struct: 'runqueue_trace_record', type: 'KS_RECORD_RUNQUEUE', version: 1 },
  trace: {
    optIn: true,
    minLatency: true,
    pidField: 'tgid', // the process that waited (hdr is the task leaving the CPU)
    columns: [
      { name: 'tid', heading: 'TID', width: 7, value: (r) => r.pid as number },
      { name: 'latency_ms', heading: 'LAT(ms)', width: 10, value: (r) => latencyMs(r.latency_ns as number) },
      { name: 'prev_comm', heading: 'PREV-COMM', width: 16, value: (r) => r.prev_comm as string },
      { name: 'prev_pid', heading: 'PREV-PID', width: 0, value: (r) => r.prev_pid as number, last: true },
    ],
  },
  cgroupKeys: true,
  attach: [
    {
      name: 'sched_wakeup',
      variants: [
        { kind: 'tp_btf', program: 'runqueue_wakeup_tp_btf' },
        { kind: 'raw_tp', program: 'runqueue_wakeup_raw_tp', target: 'sched_wakeup' },
      ],
    },
    {
      name: 'sched_wakeup_new',
      variants: [
        { kind: 'tp_btf', program: 'runqueue_wakeup_new_tp_btf' },
        { kind: 'raw_tp', program: 'runqueue_wakeup_new_raw_tp', target: 'sched_wakeup_new' },
      ],
    },
    {
      name: 'sched_switch',
      variants: [
        { kind: 'tp_btf', program: 'runqueue_switch_tp_btf' },
        { kind: 'raw_tp', program: 'runqueue_switch_raw_tp', target: 'sched_switch' },
      ],
    },
  ],
  recordMetrics: [],
  mapMetrics: [
    {
      type: 'histogram',
      name: 'kernscope_runqueue_latency_seconds',
      help: 'Time runnable tasks waited for a CPU (wakeup or preemption to sched_switch in); buckets are in-kernel log2 slot edges.',
      map: 'runqueue_stats',
      key: 'runqueue_key',
      value: 'runqueue_stats',
      slots: 'slots',
      sum: 'sum_ns',
      scale: 1e-9,
      bounds: RUNQUEUE_LATENCY_BOUNDS,
      labels: {},
      cgroupField: 'cgroup_id',
    },
  ],
};
