import { blockDeviceName } from './blockDevices';
import { latencyMs } from './formats';
import type { ProbeDefinition } from './ProbeDefinition';

/** Slot edges 2^-19 .. 2^1 s (1.9 us .. 2 s), every other octave. */
export const BLOCK_IO_LATENCY_BOUNDS = Array.from({ length: 11 }, (_, i) => 2 ** (-19 + 2 * i));

/** enum blockio_op (bpf/blockio.h). */
const OPS = ['read', 'write', 'flush', 'discard', 'other'];

export function blockOpName(op: number): string {
  return OPS[op] ?? 'other';
}

const labels = { device: { field: 'dev', format: blockDeviceName }, op: { field: 'op', format: blockOpName } };

/**
 * Block request latency (issue to completion) and completed bytes, by disk and
 * operation (bpf/blockio.bpf.c), aggregated in per-CPU maps. The pid/cgroup
 * filter applies at issue (the dispatching task); completions run in
 * interrupt context and follow their issue. Traced, each completed request is
 * a record naming the task that issued it.
 */
export const blockioProbe: ProbeDefinition = {
  name: 'blockio',
  summary: 'block I/O latency and bytes, by disk and operation (aggregated in the kernel)',
  cost: 'per-event',
  object: 'blockio.bpf.o',
  cgroupKeys: true,
  traceMaps: ['blockio_issuers'],
  record: { struct: 'blockio_trace_record', type: 'KS_RECORD_BLOCKIO', version: 1 },
  trace: {
    optIn: true,
    minLatency: true,
    pidField: 'tgid', // the issuing task: the completion runs in an unrelated context
    columns: [
      { name: 'disk', heading: 'DISK', width: 8, value: (r) => blockDeviceName(r.dev as number) },
      { name: 'op', heading: 'OP', width: 7, value: (r) => blockOpName(r.op as number) },
      { name: 'sector', heading: 'SECTOR', width: 12, value: (r) => r.sector as number },
      { name: 'bytes', heading: 'BYTES', width: 8, value: (r) => r.bytes as number },
      // Microseconds, as biosnoop prints them.
      { name: 'latency_ms', heading: 'LAT(ms)', width: 0, value: (r) => latencyMs(r.latency_ns as number), last: true },
    ],
  },
  attach: [
    {
      name: 'block_rq_issue',
      variants: [
        { kind: 'tp_btf', program: 'blockio_issue_tp_btf' },
        { kind: 'raw_tp', program: 'blockio_issue_raw_tp', target: 'block_rq_issue' },
        { kind: 'tracepoint', program: 'blockio_issue_tracepoint', target: 'block/block_rq_issue' },
      ],
    },
    {
      name: 'block_rq_complete',
      variants: [
        { kind: 'tp_btf', program: 'blockio_complete_tp_btf' },
        { kind: 'raw_tp', program: 'blockio_complete_raw_tp', target: 'block_rq_complete' },
        { kind: 'tracepoint', program: 'blockio_complete_tracepoint', target: 'block/block_rq_complete' },
      ],
    },
  ],
  recordMetrics: [],
  mapMetrics: [
    {
      type: 'histogram',
      name: 'kernscope_block_io_duration_seconds',
      help: 'Block request latency (block_rq_issue to block_rq_complete), by disk and operation; buckets are in-kernel log2 slot edges.',
      map: 'blockio_stats',
      key: 'blockio_key',
      value: 'blockio_stats',
      slots: 'slots',
      sum: 'sum_ns',
      scale: 1e-9,
      bounds: BLOCK_IO_LATENCY_BOUNDS,
      labels,
    },
    {
      type: 'counter',
      name: 'kernscope_block_io_bytes_total',
      help: 'Bytes of completed block requests, by disk, operation and, with attribution, the owning namespace, pod and container (blkcg).',
      map: 'blockio_bytes',
      key: 'blockio_bytes_key',
      value: 'blockio_bytes',
      field: 'bytes',
      labels,
      cgroupField: 'cgroup_id',
    },
  ],
};
