// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcp: connections by direction, connect latency (log2 histogram) and
 * failures, retransmitted segments and resets, counted in per-CPU maps (no
 * ring-buffer record: user space only needs the totals).
 *
 * Many of these events run in softirq context, where the current task is
 * whoever was interrupted, so the task filters of ks_skip_current() mean
 * nothing here and are not applied to the counts. The filter that means
 * something for every event is the socket's network namespace: targ_netns.
 *
 * For `kernscope trace` (targ_trace) each event also sends a struct
 * tcp_trace_record. The task that connects a socket (CLOSE -> SYN_SENT runs
 * in connect()) is remembered as the socket's owner until it closes, if the
 * task filters let it through; the records of that socket's events name it.
 * Other events (accepts, SYN-ACK retransmits, resets that answer a segment
 * for no such socket) have no known owner: they are recorded without one
 * unless a task filter is set. With targ_trace off (the agent) the verifier
 * prunes that code: each program run pays one load of targ_trace.
 */
#include "kernscope.bpf.h"
#include <bpf/bpf_endian.h>
#include "core_fixes.bpf.h"
#include "histogram.bpf.h"
#include "tcp.h"

#define KS_AF_INET 2
#define KS_AF_INET6 10

/* nsfs inode number of the network namespace to count; 0: every namespace. */
const volatile __u32 targ_netns = 0;
/* Count each socket's cgroup apart (user space labels it namespace/pod/container). */
const volatile bool targ_attribute = false;

KS_EXPORT_TYPE(tcp_direction_key);
KS_EXPORT_TYPE(tcp_count);
KS_EXPORT_TYPE(tcp_totals_key);
KS_EXPORT_TYPE(tcp_totals);
KS_EXPORT_TYPE(tcp_trace_record);
enum ks_tcp_direction *ks_tcp_directions __attribute__((unused));
enum ks_tcp_reset_direction *ks_tcp_reset_directions __attribute__((unused));
enum tcp_trace_event *ks_tcp_trace_events __attribute__((unused));

/*
 * Per socket in SYN_SENT: when its connect started. Keyed by the sock
 * pointer; deleted when the socket reaches ESTABLISHED or CLOSE.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} connect_starts SEC(".maps");

/* The task that connected a socket. */
struct tcp_owner {
	__u32 tgid;
	char comm[KS_COMM_LEN];
};

/*
 * Only with targ_trace: per socket from SYN_SENT until CLOSE, its owner.
 * Keyed like connect_starts. Not BPF_F_NO_PREALLOC: before v6.1 the verifier
 * warns (WARN_ONCE) when a tracing program uses a run-time allocated hash,
 * and refuses on PREEMPT_RT.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tcp_owner);
} connect_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2 * KS_TCP_MAX_CGROUPS);
	__type(key, struct tcp_direction_key);
	__type(value, struct tcp_count);
} tcp_connections SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2 * KS_TCP_MAX_CGROUPS);
	__type(key, struct tcp_direction_key);
	__type(value, struct tcp_count);
} tcp_resets SEC(".maps");

/*
 * Shared, not per-CPU: its 288-byte value per cgroup would cost that times
 * every CPU; connects, failures and retransmits are rare enough for atomic adds.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_TCP_MAX_CGROUPS);
	__type(key, struct tcp_totals_key);
	__type(value, struct tcp_totals);
} tcp_totals SEC(".maps");

static __always_inline bool skip_netns(__u32 netns)
{
	return targ_netns && netns && netns != targ_netns;
}

static __always_inline bool skip_sock(const struct sock *sk)
{
	return targ_netns && skip_netns(ks_sock_netns(&sk->__sk_common));
}

static __always_inline __u64 cgroup_of(const struct sock *sk)
{
	return targ_attribute ? ks_sock_cgroup_id(sk) : 0;
}

static __always_inline struct tcp_totals *totals(const struct sock *sk)
{
	static const struct tcp_totals zero;
	struct tcp_totals_key key = {.cgroup_id = cgroup_of(sk)};

	return ks_lookup_or_init(&tcp_totals, &key, &zero);
}

static __always_inline void count_direction(void *map, __u32 direction, const struct sock *sk)
{
	struct tcp_direction_key key = {.direction = direction, .cgroup_id = cgroup_of(sk)};

	ks_count_in(map, &key);
}

/* Only with targ_trace, at CLOSE -> SYN_SENT (in connect()): the current task owns the socket. */
static __always_inline void remember_owner(const struct sock *sk)
{
	struct tcp_owner owner = {.tgid = bpf_get_current_pid_tgid() >> 32};
	__u64 key = (__u64)sk;

	if (ks_skip_current())
		return;
	bpf_get_current_comm(owner.comm, sizeof(owner.comm));
	if (bpf_map_update_elem(&connect_owners, &key, &owner, BPF_ANY))
		ks_count_drop(); /* table full: this connect sends no record */
}

/* A trace record with its header, event, latency and owner (NULL: unknown); NULL if the ring is full. */
static __always_inline struct tcp_trace_record *reserve_record(__u16 event, __u64 latency_ns,
							       const struct tcp_owner *owner)
{
	struct tcp_trace_record *rec;

	rec = ks_reserve(sizeof(*rec), KS_RECORD_TCP, TCP_TRACE_RECORD_VERSION);
	if (!rec)
		return NULL;
	rec->event = event;
	rec->latency_ns = latency_ns;
	rec->pad = 0;
	if (owner) {
		rec->tgid = owner->tgid;
		__builtin_memcpy(rec->comm, owner->comm, sizeof(rec->comm));
	} else {
		rec->tgid = 0;
		__builtin_memset(rec->comm, 0, sizeof(rec->comm));
	}
	return rec;
}

/*
 * The record of an event without a latency on `sk` (NULL: no socket), or
 * NULL when it is not to be recorded: with a minimum latency (only connects
 * have one), or of an unknown owner while a task filter is set.
 */
static __always_inline struct tcp_trace_record *reserve_event(const void *sk, __u16 event)
{
	struct tcp_owner *owner = NULL;
	__u64 key = (__u64)sk;

	if (targ_trace_min_ns)
		return NULL;
	if (sk)
		owner = bpf_map_lookup_elem(&connect_owners, &key);
	if (!owner && ks_task_filter_set())
		return NULL;
	return reserve_record(event, 0, owner);
}

/* Family, addresses and remote port of any socket (full, request or timewait). */
static __always_inline void set_addrs(struct tcp_trace_record *rec, const struct sock_common *skc,
				      __u16 local_port)
{
	__u16 family = BPF_CORE_READ(skc, skc_family);

	rec->family = family;
	rec->local_port = local_port;
	rec->remote_port = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	__builtin_memset(rec->local_addr, 0, sizeof(rec->local_addr));
	__builtin_memset(rec->remote_addr, 0, sizeof(rec->remote_addr));
	if (family == KS_AF_INET) {
		rec->local_addr[0] = BPF_CORE_READ(skc, skc_rcv_saddr);
		rec->remote_addr[0] = BPF_CORE_READ(skc, skc_daddr);
	} else if (family == KS_AF_INET6 && bpf_core_field_exists(skc->skc_v6_daddr)) {
		/* the IPv6 fields exist only with CONFIG_IPV6, as do AF_INET6 sockets */
		BPF_CORE_READ_INTO(&rec->local_addr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&rec->remote_addr, skc, skc_v6_daddr);
	}
}

/* A full socket's ends. Its local port from inet_sport: the unhash at CLOSE zeroes skc_num first. */
static __always_inline void set_sock_addrs(struct tcp_trace_record *rec, const struct sock *sk)
{
	const struct inet_sock *inet = (const void *)sk;

	set_addrs(rec, &sk->__sk_common, bpf_ntohs(BPF_CORE_READ(inet, inet_sport)));
}

/*
 * The ends of the connection a received segment belongs to (the one a reset
 * answers): its destination is the local end. The receive path has set the
 * skb's network and transport headers.
 */
static __always_inline void set_skb_addrs(struct tcp_trace_record *rec, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	const struct iphdr *ip = (const void *)(head + BPF_CORE_READ(skb, network_header));
	const struct ipv6hdr *ip6 = (const void *)ip;
	const struct tcphdr *th = (const void *)(head + BPF_CORE_READ(skb, transport_header));
	__u8 version = BPF_CORE_READ_BITFIELD_PROBED(ip, version);

	rec->family = 0;
	rec->local_port = bpf_ntohs(BPF_CORE_READ(th, dest));
	rec->remote_port = bpf_ntohs(BPF_CORE_READ(th, source));
	__builtin_memset(rec->local_addr, 0, sizeof(rec->local_addr));
	__builtin_memset(rec->remote_addr, 0, sizeof(rec->remote_addr));
	if (version == 4) {
		rec->family = KS_AF_INET;
		BPF_CORE_READ_INTO(&rec->local_addr[0], ip, daddr);
		BPF_CORE_READ_INTO(&rec->remote_addr[0], ip, saddr);
	} else if (version == 6) {
		rec->family = KS_AF_INET6;
		BPF_CORE_READ_INTO(&rec->local_addr, ip6, daddr);
		BPF_CORE_READ_INTO(&rec->remote_addr, ip6, saddr);
	}
}

/* Only with targ_trace: an event on a full socket. */
static __always_inline void trace_sock_event(const struct sock *sk, __u16 event)
{
	struct tcp_trace_record *rec = reserve_event(sk, event);

	if (!rec)
		return;
	set_sock_addrs(rec, sk);
	ks_submit(rec);
}

/* Only with targ_trace: a connect leaving SYN_SENT, if its owner and start are known and it was slow enough. */
static __always_inline void trace_connect(const struct sock *sk, __u16 event)
{
	__u64 key = (__u64)sk, *start, latency;
	struct tcp_owner *owner;
	struct tcp_trace_record *rec;

	owner = bpf_map_lookup_elem(&connect_owners, &key);
	start = bpf_map_lookup_elem(&connect_starts, &key);
	if (!owner || !start)
		return; /* connecting before the trace started, filtered out, or a table was full */
	latency = bpf_ktime_get_ns() - *start;
	if (latency < targ_trace_min_ns)
		return;
	rec = reserve_record(event, latency, owner);
	if (!rec)
		return;
	set_sock_addrs(rec, sk);
	ks_submit(rec);
}

/* A connect started: CLOSE -> SYN_SENT, or tcp_v{4,6}_connect() entry. */
static __always_inline int on_connect_start(const struct sock *sk)
{
	__u64 key = (__u64)sk, now = bpf_ktime_get_ns();

	if (skip_sock(sk))
		return 0;
	if (bpf_map_update_elem(&connect_starts, &key, &now, BPF_ANY))
		ks_count_drop(); /* table full: this connect goes untimed */
	return 0;
}

/* connect_v4/connect_v6 tracepoint variants: only the SYN_SENT transitions of their family. */
static __always_inline int on_state_connect(const struct sock *sk, int newstate, __u16 family,
					    __u16 protocol, __u16 want_family)
{
	if (newstate != TCP_SYN_SENT || protocol != IPPROTO_TCP || family != want_family)
		return 0;
	return on_connect_start(sk);
}

static __always_inline void connect_done(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tcp_totals *t;
	__u64 *start, delta;

	start = bpf_map_lookup_elem(&connect_starts, &key);
	if (!start)
		return; /* started before we attached, or its insert failed */
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&connect_starts, &key);
	t = totals(sk);
	if (!t)
		return;
	__sync_fetch_and_add(&t->connect_sum_ns, delta);
	__sync_fetch_and_add(&t->connect_slots[ks_latency_slot(delta)], 1);
}

/*
 * Only with targ_trace, before on_state() forgets the connect's start: the
 * owner from SYN_SENT (in connect(), in every variant) until CLOSE, and the
 * records of connects, failed connects and accepts.
 */
static __always_inline void trace_state(const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;

	if (newstate == TCP_SYN_SENT) {
		remember_owner(sk);
	} else if (newstate == TCP_ESTABLISHED) {
		if (oldstate == TCP_SYN_SENT)
			trace_connect(sk, KS_TCP_TRACE_CONNECT);
		else if (oldstate == TCP_SYN_RECV)
			trace_sock_event(sk, KS_TCP_TRACE_ACCEPT);
	} else if (newstate == TCP_CLOSE) {
		if (oldstate == TCP_SYN_SENT)
			trace_connect(sk, KS_TCP_TRACE_CONNECT_FAILED);
		bpf_map_delete_elem(&connect_owners, &key);
	}
}

/* Every other state change (a connect's start is the connect points' job). */
static __always_inline int on_state(const struct sock *sk, int oldstate, int newstate,
				    __u16 protocol)
{
	__u64 key = (__u64)sk;
	struct tcp_totals *t;

	if (protocol != IPPROTO_TCP || skip_sock(sk))
		return 0;
	if (targ_trace)
		trace_state(sk, oldstate, newstate);
	if (newstate == TCP_ESTABLISHED) {
		if (oldstate == TCP_SYN_SENT) {
			count_direction(&tcp_connections, KS_TCP_OUTBOUND, sk);
			connect_done(sk);
		} else if (oldstate == TCP_SYN_RECV) {
			count_direction(&tcp_connections, KS_TCP_INBOUND, sk);
		}
	} else if (newstate == TCP_CLOSE) {
		if (oldstate == TCP_SYN_SENT) {
			t = totals(sk);
			if (t)
				__sync_fetch_and_add(&t->connect_failures, 1);
		}
		/*
		 * Any socket that closes: a start left behind by a connect
		 * that failed before SYN_SENT (fentry/kprobe variants) goes
		 * when its sock is reused and closes.
		 */
		bpf_map_delete_elem(&connect_starts, &key);
	}
	return 0;
}

static __always_inline int on_retransmit(const struct ks_tcp_skb_args *args)
{
	const struct tcp_skb_cb *cb;
	struct tcp_totals *t;
	__u16 segs;

	/* Only retransmissions that went out (the kernel's RetransSegs minus TCPRetransFail). */
	if (args->err || skip_sock(args->sk))
		return 0;
	/* tcp_skb_pcount(): the segments this (possibly GSO) skb carries. */
	cb = (const void *)args->skb->cb;
	segs = BPF_CORE_READ(cb, tcp_gso_segs);
	t = totals(args->sk);
	if (t)
		__sync_fetch_and_add(&t->retransmits, segs ? segs : 1);
	if (targ_trace)
		trace_sock_event(args->sk, KS_TCP_TRACE_RETRANSMIT);
	return 0;
}

/* Only with targ_trace: a SYN-ACK resent for a request sock, whose owner is unknown. */
static __always_inline void trace_synack(const struct request_sock *req)
{
	struct tcp_trace_record *rec = reserve_event(NULL, KS_TCP_TRACE_RETRANSMIT);

	if (!rec)
		return;
	/* a request sock's local port is its skc_num (ir_num) */
	set_addrs(rec, &req->__req_common, BPF_CORE_READ(req, __req_common.skc_num));
	ks_submit(rec);
}

/*
 * tcp_rtx_synack(): one SYN-ACK segment, counted in RetransSegs too (only
 * when it went out). `sk` is the listener, `req` the connection.
 */
static __always_inline int on_retransmit_synack(const struct sock *sk,
						const struct request_sock *req)
{
	struct tcp_totals *t;

	if (skip_sock(sk))
		return 0;
	t = totals(sk);
	if (t)
		__sync_fetch_and_add(&t->retransmits, 1);
	if (targ_trace)
		trace_synack(req);
	return 0;
}

/*
 * Only with targ_trace: a reset answers a received segment (skb), whatever
 * socket it found (none, a timewait or request sock, a full one), or aborts
 * a full socket (no skb).
 */
static __always_inline void trace_reset_sent(const struct ks_tcp_skb_args *args)
{
	struct tcp_trace_record *rec = reserve_event(args->sk, KS_TCP_TRACE_RESET_SENT);

	if (!rec)
		return;
	if (args->skb)
		set_skb_addrs(rec, args->skb);
	else
		set_sock_addrs(rec, args->sk);
	ks_submit(rec);
}

static __always_inline int on_send_reset(const struct ks_tcp_skb_args *args)
{
	const struct sk_buff *skb = args->skb;
	__u32 netns = 0;

	if (targ_netns) {
		/* No socket when the reset answers a packet nothing listens for: the packet's device says. */
		if (args->sk)
			netns = ks_sock_netns(&args->sk->__sk_common);
		else if (skb)
			netns = ks_dev_netns(BPF_CORE_READ(skb, dev));
		if (skip_netns(netns))
			return 0;
	}
	count_direction(&tcp_resets, KS_TCP_RESET_SENT, args->sk); /* no socket: cgroup 0 */
	if (targ_trace)
		trace_reset_sent(args);
	return 0;
}

static __always_inline int on_receive_reset(const struct sock *sk)
{
	if (skip_sock(sk))
		return 0;
	count_direction(&tcp_resets, KS_TCP_RESET_RECEIVED, sk);
	if (targ_trace)
		trace_sock_event(sk, KS_TCP_TRACE_RESET_RECEIVED);
	return 0;
}

/* connect_v4: fentry -> kprobe -> inet_sock_set_state (tp_btf -> tracepoint). */

SEC("fentry/tcp_v4_connect")
int BPF_PROG(tcp_connect_v4_fentry, struct sock *sk)
{
	return on_connect_start(sk);
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(tcp_connect_v4_kprobe, struct sock *sk)
{
	return on_connect_start(sk);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_connect_v4_tp_btf, const struct sock *sk, int oldstate, int newstate)
{
	return on_state_connect(sk, newstate, BPF_CORE_READ(sk, __sk_common.skc_family),
				ks_sk_protocol(sk), KS_AF_INET);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_connect_v4_tracepoint(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return on_state_connect(ctx->skaddr, ctx->newstate, ctx->family, ctx->protocol, KS_AF_INET);
}

/* connect_v6: the same for IPv6 sockets (v4-mapped addresses included). */

SEC("fentry/tcp_v6_connect")
int BPF_PROG(tcp_connect_v6_fentry, struct sock *sk)
{
	return on_connect_start(sk);
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(tcp_connect_v6_kprobe, struct sock *sk)
{
	return on_connect_start(sk);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_connect_v6_tp_btf, const struct sock *sk, int oldstate, int newstate)
{
	return on_state_connect(sk, newstate, BPF_CORE_READ(sk, __sk_common.skc_family),
				ks_sk_protocol(sk), KS_AF_INET6);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_connect_v6_tracepoint(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return on_state_connect(ctx->skaddr, ctx->newstate, ctx->family, ctx->protocol,
				KS_AF_INET6);
}

/* state: ESTABLISHED and CLOSE transitions. */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_tp_btf, const struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, oldstate, newstate, ks_sk_protocol(sk));
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state_tracepoint(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return on_state(ctx->skaddr, ctx->oldstate, ctx->newstate, ctx->protocol);
}

/* retransmit */

SEC("tp_btf/tcp_retransmit_skb")
int tcp_retransmit_tp_btf(__u64 *ctx)
{
	struct ks_tcp_skb_args args;

	ks_tcp_retransmit_args(ctx, &args);
	return on_retransmit(&args);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit_tracepoint(void *ctx)
{
	struct ks_tcp_skb_args args;

	ks_tcp_retransmit_record(ctx, &args);
	return on_retransmit(&args);
}

/* retransmit_synack */

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcp_retransmit_synack_tp_btf, const struct sock *sk, const struct request_sock *req)
{
	return on_retransmit_synack(sk, req);
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int tcp_retransmit_synack_tracepoint(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	return on_retransmit_synack(ctx->skaddr, ctx->req);
}

/* send_reset */

SEC("tp_btf/tcp_send_reset")
int tcp_send_reset_tp_btf(__u64 *ctx)
{
	struct ks_tcp_skb_args args = {
		.sk = (const struct sock *)ctx[0],
		.skb = (const struct sk_buff *)ctx[1],
	};

	return on_send_reset(&args);
}

SEC("tracepoint/tcp/tcp_send_reset")
int tcp_send_reset_tracepoint(void *ctx)
{
	struct ks_tcp_skb_args args;

	ks_tcp_send_reset_record(ctx, &args);
	return on_send_reset(&args);
}

/* receive_reset */

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcp_receive_reset_tp_btf, struct sock *sk)
{
	return on_receive_reset(sk);
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_receive_reset_tracepoint(struct trace_event_raw_tcp_event_sk *ctx)
{
	return on_receive_reset(ctx->skaddr);
}
