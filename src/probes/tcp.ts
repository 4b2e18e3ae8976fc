import { socketAddress } from './addresses';
import { latencyMs } from './formats';
import type { AttachVariant, DecodedRecord, KeyLabel, ProbeDefinition } from './ProbeDefinition';

/** Slot edges 2^-18 .. 2^2 s (3.8 us .. 4 s), every other octave (SYN retransmits land at 1 s, 3 s, 7 s). */
export const TCP_CONNECT_LATENCY_BOUNDS = Array.from({ length: 11 }, (_, i) => 2 ** (-18 + 2 * i));

/** `enum ks_tcp_direction` (bpf/tcp.h) -> label value. */
export const TCP_DIRECTIONS: readonly string[] = ['outbound', 'inbound'];
/** `enum ks_tcp_reset_direction` (bpf/tcp.h) -> label value. */
export const TCP_RESET_DIRECTIONS: readonly string[] = ['sent', 'received'];
/** `enum tcp_trace_event` (bpf/tcp.h) -> the trace's EVENT column. */
export const TCP_TRACE_EVENTS: readonly string[] = [
  'connect',
  'connect_failed',
  'accept',
  'retransmit',
  'reset_sent',
  'reset_received',
];

/** A trace record's local or remote end: `127.0.0.1:80`, `[::1]:80`. */
function end(r: DecodedRecord, side: 'local' | 'remote'): string {
  return socketAddress(r.family as number, r[`${side}_addr`] as Uint8Array, r[`${side}_port`] as number);
}

function labelOf(names: readonly string[]): KeyLabel {
  return { field: 'direction', format: (value) => names[value] ?? String(value) };
}

/** fentry -> kprobe on tcp_vN_connect, then the CLOSE -> SYN_SENT transition of that family. */
function connectVariants(family: 'v4' | 'v6'): AttachVariant[] {
  return [
    { kind: 'fentry', program: `tcp_connect_${family}_fentry` },
    { kind: 'kprobe', program: `tcp_connect_${family}_kprobe`, target: `tcp_${family}_connect` },
    { kind: 'tp_btf', program: `tcp_connect_${family}_tp_btf` },
    { kind: 'tracepoint', program: `tcp_connect_${family}_tracepoint`, target: 'sock/inet_sock_set_state' },
  ];
}

/** A tcp event: tp_btf, else the classic tracepoint. */
function tcpEvent(name: string, category: string, event: string): AttachVariant[] {
  return [
    { kind: 'tp_btf', program: `tcp_${name}_tp_btf` },
    { kind: 'tracepoint', program: `tcp_${name}_tracepoint`, target: `${category}/${event}` },
  ];
}

const totals = {
  map: 'tcp_totals',
  key: 'tcp_totals_key',
  value: 'tcp_totals',
  labels: {},
  cgroupField: 'cgroup_id',
};

/**
 * TCP connections, connect latency and failures, retransmitted segments and
 * resets (bpf/tcp.bpf.c), counted in per-CPU maps in the kernel. Most of
 * these events happen in softirq context, where the current task is
 * arbitrary: the pid/cgroup/comm filters do not apply; the probe's own
 * filter is the socket's network namespace (`targ_netns`).
 *
 * Traced, each event is a record (struct tcp_trace_record). The process it
 * names (tgid, comm) is the socket's owner: the task that called connect(),
 * remembered from SYN_SENT until the socket closes. So connect and
 * connect_failed always name it, and so do retransmits and resets of a
 * socket connected while tracing; accepts, SYN-ACK retransmits, resets that
 * answer a segment for no such socket, and events of sockets connected
 * before the trace began name none (pid 0, comm ""). The pid/comm/cgroup
 * filters judge the owner when it connects; events with no owner are left
 * out while one of them is set. The network-namespace filter applies to all.
 */
export const tcpProbe: ProbeDefinition = {
  name: 'tcp',
  summary: 'TCP connections, connect latency and failures, retransmits, resets (aggregated in the kernel)',
  cost: 'per-event',
  object: 'tcp.bpf.o',
  traceMaps: ['connect_owners'],
  record: { struct: 'tcp_trace_record', type: 'KS_RECORD_TCP', version: 1 },
  trace: {
    optIn: true,
    // Only connect and connect_failed have a latency: with --min-latency no other event is recorded.
    minLatency: true,
    pidField: 'tgid', // the socket's owner, not the (often softirq) context the event ran in
    columns: [
      {
        name: 'event',
        heading: 'EVENT',
        width: 14,
        value: (r) => TCP_TRACE_EVENTS[r.event as number] ?? String(r.event),
      },
      { name: 'local', heading: 'LOCAL', width: 21, value: (r) => end(r, 'local') },
      { name: 'remote', heading: 'REMOTE', width: 21, value: (r) => end(r, 'remote') },
      // Milliseconds to the microsecond, as tcpconnlat prints them; 0 for events without a latency.
      {
        name: 'latency_ms',
        heading: 'LAT(ms)',
        width: 0,
        value: (r) => latencyMs(r.latency_ns as number),
        last: true,
      },
    ],
  },
  attach: [
    { name: 'connect_v4', variants: connectVariants('v4') },
    { name: 'connect_v6', variants: connectVariants('v6') },
    { name: 'state', variants: tcpEvent('state', 'sock', 'inet_sock_set_state') },
    { name: 'retransmit', variants: tcpEvent('retransmit', 'tcp', 'tcp_retransmit_skb') },
    { name: 'retransmit_synack', variants: tcpEvent('retransmit_synack', 'tcp', 'tcp_retransmit_synack') },
    { name: 'send_reset', variants: tcpEvent('send_reset', 'tcp', 'tcp_send_reset') },
    { name: 'receive_reset', variants: tcpEvent('receive_reset', 'tcp', 'tcp_receive_reset') },
  ],
  netnsFilter: true,
  cgroupKeys: true,
  recordMetrics: [],
  mapMetrics: [
    {
      type: 'counter',
      name: 'kernscope_tcp_connections_total',
      help: 'TCP connections that reached ESTABLISHED: outbound (active open, connect) or inbound (passive open, accept side).',
      map: 'tcp_connections',
      key: 'tcp_direction_key',
      value: 'tcp_count',
      field: 'count',
      labels: { direction: labelOf(TCP_DIRECTIONS) },
      cgroupField: 'cgroup_id',
    },
    {
      ...totals,
      type: 'histogram',
      name: 'kernscope_tcp_connect_duration_seconds',
      help: 'Outbound TCP connect latency (SYN sent to ESTABLISHED); buckets are in-kernel log2 slot edges.',
      slots: 'connect_slots',
      sum: 'connect_sum_ns',
      scale: 1e-9,
      bounds: TCP_CONNECT_LATENCY_BOUNDS,
    },
    {
      ...totals,
      type: 'counter',
      name: 'kernscope_tcp_connect_failures_total',
      help: 'Active TCP opens that never reached ESTABLISHED (SYN_SENT to CLOSE: refused, timed out, aborted).',
      field: 'connect_failures',
    },
    {
      ...totals,
      type: 'counter',
      name: 'kernscope_tcp_retransmits_total',
      help: 'TCP segments retransmitted, SYN-ACKs included (those that went out: the kernel RetransSegs counter minus TCPRetransFail).',
      field: 'retransmits',
    },
    {
      type: 'counter',
      name: 'kernscope_tcp_resets_total',
      help: 'TCP resets (RST) sent or received.',
      map: 'tcp_resets',
      key: 'tcp_direction_key',
      value: 'tcp_count',
      field: 'count',
      labels: { direction: labelOf(TCP_RESET_DIRECTIONS) },
      cgroupField: 'cgroup_id',
    },
  ],
};
