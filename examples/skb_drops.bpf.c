// SPDX-License-Identifier: GPL-2.0-only
/*
 * skb_drops: packets the kernel dropped (kfree_skb), by reason. The kernel
 * numbers its drop reasons differently from release to release (NO_SOCKET
 * is 2 on 6.1, 3 on 6.18), so the program turns the reasons it knows into
 * fixed label numbers through CO-RE enum relocations, resolved against the
 * running kernel at load time, and counts every other reason as "other".
 * A reason the running kernel lacks relocates to "absent" and never matches.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The label numbers, named in skb_drops.yaml. */
enum drop_label {
	DROP_OTHER,
	DROP_NOT_SPECIFIED,
	DROP_NO_SOCKET,
	DROP_SOCKET_FILTER,
	DROP_SOCKET_RCVBUFF,
	DROP_PKT_TOO_SMALL,
	DROP_TCP_CSUM,
	DROP_UDP_CSUM,
	DROP_NETFILTER_DROP,
	DROP_OTHERHOST,
	DROP_IP_CSUM,
	DROP_IP_INHDR,
	DROP_IP_NOPROTO,
	DROP_PROTO_MEM,
	DROP_TCP_RESET,
	DROP_TCP_CLOSE,
	DROP_NEIGH_FAILED,
	DROP_QDISC_DROP,
	DROP_LABELS,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_LABELS);
	__type(key, __u32);
	__type(value, __u64);
} skb_drops_total SEC(".maps");

#define DROP_REASON(name)                                                                          \
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_##name) &&            \
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_##name))           \
	return DROP_##name

static __always_inline __u32 drop_label(__u32 reason)
{
	DROP_REASON(NOT_SPECIFIED);
	DROP_REASON(NO_SOCKET);
	DROP_REASON(SOCKET_FILTER);
	DROP_REASON(SOCKET_RCVBUFF);
	DROP_REASON(PKT_TOO_SMALL);
	DROP_REASON(TCP_CSUM);
	DROP_REASON(UDP_CSUM);
	DROP_REASON(NETFILTER_DROP);
	DROP_REASON(OTHERHOST);
	DROP_REASON(IP_CSUM);
	DROP_REASON(IP_INHDR);
	DROP_REASON(IP_NOPROTO);
	DROP_REASON(PROTO_MEM);
	DROP_REASON(TCP_RESET);
	DROP_REASON(TCP_CLOSE);
	DROP_REASON(NEIGH_FAILED);
	DROP_REASON(QDISC_DROP);
	return DROP_OTHER;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	__u32 label = drop_label(reason);
	__u64 *count = bpf_map_lookup_elem(&skb_drops_total, &label);

	if (count)
		*count += 1; /* per-CPU, and the program does not run inside itself */
	return 0;
}
