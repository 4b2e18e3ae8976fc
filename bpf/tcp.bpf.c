// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcp: connections by direction, connect latency (log2 histogram) and
 * failures, retransmitted segments and resets, counted in per-CPU maps (no
 * ring-buffer record: user space only needs the totals).
 *
 * Many of these events run in softirq context, where the current task is
 * whoever was interrupted, so the task filters of ks_skip_current() mean
 * nothing here and are not applied. The filter that means something for every
 * event is the socket's network namespace: targ_netns.
 */
#include "kernscope.bpf.h"
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
enum ks_tcp_direction *ks_tcp_directions __attribute__((unused));
enum ks_tcp_reset_direction *ks_tcp_reset_directions __attribute__((unused));

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
	static const struct tcp_count zero;
	struct tcp_direction_key key = {.direction = direction, .cgroup_id = cgroup_of(sk)};
	struct tcp_count *count = ks_lookup_or_init(map, &key, &zero);

	/* Per-CPU value: plain adds are safe. */
	if (count)
		count->count++;
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

/* Like ks_log2_slot(), clamped to this histogram's KS_TCP_CONNECT_SLOTS. */
static __always_inline __u32 connect_slot(__u64 ns)
{
	__u32 slot = ks_log2(ns);

	return slot < KS_TCP_CONNECT_SLOTS ? slot : KS_TCP_CONNECT_SLOTS - 1;
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
	__sync_fetch_and_add(&t->connect_slots[connect_slot(delta)], 1);
}

/* Every other state change (SYN_SENT is the connect points' job). */
static __always_inline int on_state(const struct sock *sk, int oldstate, int newstate,
				    __u16 protocol)
{
	__u64 key = (__u64)sk;
	struct tcp_totals *t;

	if (protocol != IPPROTO_TCP || skip_sock(sk))
		return 0;
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
	return 0;
}

/* tcp_rtx_synack(): one SYN-ACK segment, counted in RetransSegs too (only when it went out). */
static __always_inline int on_retransmit_synack(const struct sock *sk)
{
	struct tcp_totals *t;

	if (skip_sock(sk))
		return 0;
	t = totals(sk);
	if (t)
		__sync_fetch_and_add(&t->retransmits, 1);
	return 0;
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
	return 0;
}

static __always_inline int on_receive_reset(const struct sock *sk)
{
	if (skip_sock(sk))
		return 0;
	count_direction(&tcp_resets, KS_TCP_RESET_RECEIVED, sk);
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
	return on_retransmit_synack(sk);
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int tcp_retransmit_synack_tracepoint(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	return on_retransmit_synack(ctx->skaddr);
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
