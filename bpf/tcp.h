/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcp: connections, connect latency and failures, retransmitted segments and
 * resets, aggregated in per-CPU maps in the kernel (no ring record). User
 * space reads these maps at collection time. Numbers of the direction enums
 * are labels in user space (src/probes/tcp.ts), checked against this BTF.
 */
#ifndef KERNSCOPE_TCP_H
#define KERNSCOPE_TCP_H

/*
 * Connect latency histogram: slot i counts latencies with
 * floor(log2(ns)) == i; the last slot takes everything from 2^32 ns (4.3 s)
 * up, so 2^32 ns can be a bucket bound (SYN retransmits land at 1 s, 3 s, 7 s).
 */
#define KS_TCP_CONNECT_SLOTS 33
/* Socket cgroups counted apart when attribution is on (beyond: counted as lost). */
#define KS_TCP_MAX_CGROUPS 1024

enum ks_tcp_direction {
	KS_TCP_OUTBOUND = 0, /* active open (connect) reached ESTABLISHED */
	KS_TCP_INBOUND = 1, /* passive open (accept side) reached ESTABLISHED */
};

enum ks_tcp_reset_direction {
	KS_TCP_RESET_SENT = 0,
	KS_TCP_RESET_RECEIVED = 1,
};

struct tcp_direction_key {
	__u32 direction; /* enum ks_tcp_direction or ks_tcp_reset_direction */
	__u32 pad;
	__u64 cgroup_id; /* the socket's cgroup v2 id when attribution is on, else 0 */
};

struct tcp_count {
	__u64 count;
};

struct tcp_totals_key {
	__u64 cgroup_id; /* as in tcp_direction_key */
};

struct tcp_totals {
	__u64 connect_failures; /* SYN_SENT -> CLOSE */
	__u64 retransmits; /* segments, SYN-ACKs included, as the kernel's RetransSegs */
	__u64 connect_sum_ns; /* SYN sent -> ESTABLISHED, outbound */
	__u64 connect_slots[KS_TCP_CONNECT_SLOTS];
};

_Static_assert(sizeof(struct tcp_direction_key) == 16, "tcp_direction_key is ABI");
_Static_assert(sizeof(struct tcp_totals_key) == 8, "tcp_totals_key is ABI");
_Static_assert(sizeof(struct tcp_totals) == 24 + 8 * KS_TCP_CONNECT_SLOTS, "tcp_totals is ABI");

#endif /* KERNSCOPE_TCP_H */
