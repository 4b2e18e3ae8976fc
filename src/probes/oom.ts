import type { ProbeDefinition } from './ProbeDefinition';

/**
 * OOM kills (bpf/oom.bpf.c), from oom:mark_victim: counted once per victim
 * process in a per-CPU array (exact, and 0 before the first kill); each kill
 * also sends a ring record (struct oom_record: the victim's pid, uid, comm,
 * cgroup v2 id and memory cgroup id, and the command that ran the killer) for
 * the event stream, counted by where the victim ran in
 * kernscope_oom_victims_total (a record lost is counted as lost, so the
 * node-wide kernscope_oom_kills_total stays the exact one). Filters apply to
 * the victim.
 */
export const oomProbe = {
  name: 'oom',
  summary: 'OOM kills, one record per victim process (comm, cgroup, memory cgroup)',
  cost: 'per-event',
  object: 'oom.bpf.o',
  record: { struct: 'oom_record', type: 'KS_RECORD_OOM', version: 1 },
  trace: {
    optIn: false,
    pidField: 'victim_pid', // the victim, not the task that ran the killer
    columns: [
      { name: 'uid', heading: 'UID', width: 6, value: (r) => r.victim_uid as number },
      { name: 'trigger_comm', heading: 'TRIGGERED-BY', width: 16, value: (r) => r.trigger_comm as string },
      { name: 'memcg_id', heading: 'MEMCG', width: 0, value: (r) => String(r.memcg_id), last: true },
    ],
  },
  attach: [
    {
      name: 'mark_victim',
      variants: [
        // Refused by the verifier where mark_victim passes only a pid: then the tracepoint.
        { kind: 'tp_btf', program: 'oom_tp_btf' },
        { kind: 'tracepoint', program: 'oom_tracepoint', target: 'oom/mark_victim' },
      ],
    },
  ],
  recordMetrics: [
    {
      type: 'counter',
      name: 'kernscope_oom_victims_total',
      help: 'OOM-killed processes by where they ran (namespace, pod, container) and, when enabled, their command (comm).',
      labels: { comm: 'comm' },
      optionalLabels: ['comm'],
      cgroupField: 'victim_cgroup_id',
    },
  ],
  mapMetrics: [
    {
      type: 'counter',
      name: 'kernscope_oom_kills_total',
      help: 'Processes the OOM killer picked as victims (oom:mark_victim), once per process.',
      map: 'oom_kills',
      key: 'oom_key',
      value: 'oom_count',
      field: 'kills',
      labels: {},
    },
  ],
} satisfies ProbeDefinition;
