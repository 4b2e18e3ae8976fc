/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcp: connections, connect latency and failures, retransmitted segments and
 * resets, aggregated in per-CPU maps in the kernel. User space reads these
 * maps at collection time. Only for `kernscope trace` (targ_trace) does each
 * event also send a record. Numbers of the enums are labels in user space
 * (src/probes/tcp.ts), checked against this BTF.
 */
#ifndef KERNSCOPE_TCP_H
#define KERNSCOPE_TCP_H

#include "histogram.h"
#include "record.h"

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
	__u64 connect_slots[KS_HISTOGRAM_SLOTS]; /* connect latency (bpf/histogram.h) */
};

enum tcp_trace_event {
	KS_TCP_TRACE_CONNECT = 0, /* SYN_SENT -> ESTABLISHED: an outbound connection */
	KS_TCP_TRACE_CONNECT_FAILED = 1, /* SYN_SENT -> CLOSE: refused, timed out, aborted */
	KS_TCP_TRACE_ACCEPT = 2, /* SYN_RECV -> ESTABLISHED: an inbound connection */
	KS_TCP_TRACE_RETRANSMIT = 3, /* an skb or a SYN-ACK retransmitted (that went out) */
	KS_TCP_TRACE_RESET_SENT = 4,
	KS_TCP_TRACE_RESET_RECEIVED = 5,
};

enum { TCP_TRACE_RECORD_VERSION = 1 };

/*
 * One TCP event (`kernscope trace tcp`). hdr describes the context the event
 * ran in (often softirq: an unrelated task); tgid and comm are the socket's
 * owner where the probe knows it (see src/probes/tcp.ts), else 0 and "".
 * Addresses are in network byte order, as u32 words (the decoder reads
 * them as bytes, not as a C string).
 */
struct tcp_trace_record {
	struct ks_record_header hdr;
	__u16 event; /* enum tcp_trace_event */
	__u16 family; /* AF_INET (2) or AF_INET6 (10); 0: unknown */
	__u16 local_port; /* host byte order */
	__u16 remote_port;
	__u32 local_addr[4]; /* IPv4: word 0, the rest 0 */
	__u32 remote_addr[4];
	__u64 latency_ns; /* SYN sent -> ESTABLISHED or CLOSE (connect, connect_failed); else 0 */
	__u32 tgid; /* the owner's process id; 0: unknown */
	char comm[KS_COMM_LEN]; /* the owner's; "": unknown */
	__u32 pad;
};

_Static_assert(sizeof(struct tcp_direction_key) == 16, "tcp_direction_key is ABI");
_Static_assert(sizeof(struct tcp_count) == 8, "tcp_count is ABI");
_Static_assert(sizeof(struct tcp_totals_key) == 8, "tcp_totals_key is ABI");
_Static_assert(sizeof(struct tcp_totals) == 24 + 8 * KS_HISTOGRAM_SLOTS, "tcp_totals is ABI");
_Static_assert(sizeof(struct tcp_trace_record) == 104, "tcp_trace_record is ABI");

#endif /* KERNSCOPE_TCP_H */
