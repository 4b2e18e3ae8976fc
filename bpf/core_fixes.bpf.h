/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel differences, resolved by CO-RE at load time (libbpf relocations
 * against the running kernel's BTF), never by kernel-version #if. Each
 * workaround names the kernel change it covers. Include after vmlinux.h
 * (kernscope.bpf.h).
 */
#ifndef KERNSCOPE_CORE_FIXES_BPF_H
#define KERNSCOPE_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * commit a54895fa057c ("block: remove the request_queue to argument request
 * based tracepoints", v5.11) turned block_rq_issue(q, rq) into
 * block_rq_issue(rq). libbpf's type-compatibility check compares function
 * prototypes parameter by parameter (count and kind), so this typedef only
 * matches the kernel's btf_trace_block_rq_issue when it takes rq alone.
 */
typedef void (*btf_trace_block_rq_issue___rq_only)(void *, struct request *);

/* The request argument of a block_rq_issue tp_btf/raw_tp program. */
static __always_inline struct request *ks_block_rq_issue_rq(__u64 *ctx)
{
	if (bpf_core_type_exists(btf_trace_block_rq_issue___rq_only))
		return (struct request *)ctx[0];
	return (struct request *)ctx[1];
}

/*
 * block_rq_complete kept its request_queue-less shape (rq, error, nr_bytes)
 * through a54895fa057c and every kernel with BPF ring buffers; kernels of the
 * v3 era passed (q, rq, nr_bytes). Same prototype check as above: the request
 * is the first argument unless the kernel says otherwise; nr_bytes is ctx[2]
 * in both shapes.
 */
typedef void (*btf_trace_block_rq_complete___rq_first)(void *, struct request *, int, unsigned int);

/* The request argument of a block_rq_complete tp_btf/raw_tp program. */
static __always_inline struct request *ks_block_rq_complete_rq(__u64 *ctx)
{
	if (bpf_core_type_exists(btf_trace_block_rq_complete___rq_first))
		return (struct request *)ctx[0];
	return (struct request *)ctx[1];
}

/*
 * commit f3fa33acca9f ("block: remove the ->rq_disk field in struct
 * request", v5.17): the disk is reached through the queue instead.
 */
struct request___rq_disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

struct request_queue___disk {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *ks_request_disk(struct request *rq)
{
	struct request___rq_disk *old = (void *)rq;
	struct request_queue___disk *q;

	if (bpf_core_field_exists(old->rq_disk))
		return BPF_CORE_READ(old, rq_disk);
	q = (void *)BPF_CORE_READ(rq, q);
	return BPF_CORE_READ(q, disk);
}

/*
 * commit d5869fdc189f ("block: introduce block_rq_error tracepoint", v5.18)
 * made block_rq_complete an instance of the new block_rq_completion event
 * class, renaming its classic tracepoint record from
 * trace_event_raw_block_rq_complete. Same fields either way.
 */
struct trace_event_raw_block_rq_completion___new {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

struct trace_event_raw_block_rq_complete___old {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

/* The fields kernscope reads from a block_rq_complete tracepoint record. */
struct ks_block_rq_completion {
	__u64 sector;
	__u32 dev;
	__u32 nr_sector;
};

/*
 * Read through bpf_core_read rather than loaded directly: clang merges the
 * two branches' address arithmetic, and the verifier refuses loads through a
 * modified context pointer.
 */
static __always_inline void ks_read_block_rq_completion(void *ctx,
							struct ks_block_rq_completion *out)
{
	if (bpf_core_type_exists(struct trace_event_raw_block_rq_completion___new)) {
		struct trace_event_raw_block_rq_completion___new *e = ctx;

		out->dev = BPF_CORE_READ(e, dev);
		out->sector = BPF_CORE_READ(e, sector);
		out->nr_sector = BPF_CORE_READ(e, nr_sector);
	} else {
		struct trace_event_raw_block_rq_complete___old *e = ctx;

		out->dev = BPF_CORE_READ(e, dev);
		out->sector = BPF_CORE_READ(e, sector);
		out->nr_sector = BPF_CORE_READ(e, nr_sector);
	}
}

/*
 * commit 2f064a59a11f ("sched: Change task_struct::state", v5.14) renamed
 * task_struct::state (long) to __state (unsigned int).
 */
struct task_struct___state {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline long ks_task_state(struct task_struct *task)
{
	struct task_struct___state *old = (void *)task;

	if (bpf_core_field_exists(task->__state))
		return BPF_CORE_READ(task, __state);
	return BPF_CORE_READ(old, state);
}

/*
 * commit 7f203bc89eb6 ("cgroup: Replace cgroup->ancestor_ids[] with
 * ->ancestors[]", v6.1): ancestors are cgroup pointers now, ids before.
 * The id of a cgroup v2 is its kernfs node id (u64 since v5.5), the number
 * bpf_get_current_ancestor_cgroup_id() returns for the current task.
 */
struct cgroup___ancestor_ids {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

struct cgroup___ancestors {
	int level;
	struct cgroup *ancestors[];
} __attribute__((preserve_access_index));

/* Id of the cgroup v2 ancestor at `level` of any task's cgroup; 0 if it is shallower. */
static __always_inline __u64 ks_task_ancestor_cgroup_id(struct task_struct *task, __u32 level)
{
	struct cgroup *cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	struct cgroup___ancestor_ids *by_id = (void *)cgrp;
	struct cgroup___ancestors *by_ptr = (void *)cgrp;
	struct cgroup *ancestor = NULL;
	__u64 id = 0;
	int depth;

	if (!cgrp)
		return 0;
	depth = BPF_CORE_READ(by_ptr, level);
	if (depth < 0 || level > (__u32)depth)
		return 0;
	if (bpf_core_field_exists(by_id->ancestor_ids)) {
		bpf_core_read(&id, sizeof(id), &by_id->ancestor_ids[level]);
		return id;
	}
	bpf_core_read(&ancestor, sizeof(ancestor), &by_ptr->ancestors[level]);
	if (!ancestor)
		return 0;
	return BPF_CORE_READ(ancestor, kn, id);
}

/*
 * A thread-group leader that de_thread() kills because another thread of its
 * process is exec'ing: the exec'ing thread takes over the leader's pid, so
 * this is no process exit. de_thread() marks the group with
 * signal->group_exec_task since Eric W. Biederman's rename of
 * group_exit_task to group_exec_task (v5.17); before, with group_exit_task,
 * which a core dump set as well, together with SIGNAL_GROUP_COREDUMP (and
 * SIGNAL_GROUP_EXIT once done): flag values of include/linux/sched/signal.h.
 */
struct signal_struct___group_exit_task {
	struct task_struct *group_exit_task;
	unsigned int flags;
} __attribute__((preserve_access_index));

#define KS_SIGNAL_GROUP_EXIT 0x00000004
#define KS_SIGNAL_GROUP_COREDUMP 0x00000008

static __always_inline bool ks_leader_replaced_by_exec(struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	struct signal_struct___group_exit_task *old = (void *)sig;

	if (bpf_core_field_exists(sig->group_exec_task))
		return BPF_CORE_READ(sig, group_exec_task) != NULL;
	return BPF_CORE_READ(old, group_exit_task) != NULL &&
	       !(BPF_CORE_READ(old, flags) & (KS_SIGNAL_GROUP_EXIT | KS_SIGNAL_GROUP_COREDUMP));
}

/*
 * commit bf9765145b85 ("sock: Make sk_protocol a 16-bit value", v5.6) turned
 * the 8-bit sk_protocol bitfield into a u16 of its own (for MPTCP's
 * IPPROTO_MPTCP, 262); the bitfield read relocates to either shape.
 */
static __always_inline __u16 ks_sk_protocol(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/*
 * The network namespace of a socket (any sock_common: full, request or
 * timewait socket) or of a device, as its nsfs inode number (what
 * `stat -L /proc/PID/ns/net` or `ls -i /run/netns/NAME` shows). Kernels built
 * without CONFIG_NET_NS have an empty possible_net_t and one namespace: 0
 * there, which the netns filters let through.
 */
static __always_inline __u32 ks_sock_netns(const struct sock_common *skc)
{
	if (!bpf_core_field_exists(skc->skc_net.net))
		return 0;
	return BPF_CORE_READ(skc, skc_net.net, ns.inum);
}

static __always_inline __u32 ks_dev_netns(const struct net_device *dev)
{
	if (!bpf_core_field_exists(dev->nd_net.net))
		return 0;
	return BPF_CORE_READ(dev, nd_net.net, ns.inum);
}

/*
 * The cgroup v2 id of the task that created a socket (children of a
 * listener inherit its cgroup). Linux 5.15 (commit 8520e224f547) made
 * sock_cgroup_data hold the cgroup pointer itself; before, it was a u64 that
 * held the pointer unless its low bit (is_data) said it carried v1 class and
 * priority ids instead, in which case the v2 cgroup is unknown here.
 */
struct sock_cgroup_data___old {
	union {
		struct {
			__u8 is_data : 1;
		};
		__u64 val;
	};
};

static __always_inline __u64 ks_sock_cgroup_id(const struct sock *sk)
{
	struct cgroup *cgroup;

	if (!sk)
		return 0;
	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup)) {
		cgroup = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	} else {
		const struct sock_cgroup_data___old *old = (const void *)&sk->sk_cgrp_data;
		__u64 val = BPF_CORE_READ(old, val);

		if (val & 1)
			return 0;
		cgroup = (struct cgroup *)val;
	}
	return cgroup ? BPF_CORE_READ(cgroup, kn, id) : 0;
}

/* The socket and skb of a tcp tracepoint, and a retransmission's error. */
struct ks_tcp_skb_args {
	const struct sock *sk;
	const struct sk_buff *skb;
	int err;
};

/*
 * The classic tcp_retransmit_skb and tcp_send_reset records start with
 * skbaddr and skaddr after the common fields in every kernel that has them
 * (the tcp_event_sk_skb class of v4.15 on, and the records of their own
 * below): that prefix is read at fixed offsets, the rest through CO-RE.
 */
struct ks_tcp_sk_skb_record {
	__u64 common; /* struct trace_entry */
	const void *skbaddr;
	const void *skaddr;
};

/*
 * commit ("tcp: trace retransmit failures in tcp_retransmit_skb", Fan Yu,
 * v6.17) fires tcp_retransmit_skb for attempts that failed as well, with
 * their error as a third argument, and gave the classic tracepoint a record
 * of its own with an `err` field (it shared tcp_event_sk_skb before). Before,
 * it fired only for retransmissions that went out (err 0). The prototype
 * check (parameter count) says which shape the tp_btf arguments have.
 */
typedef void (*btf_trace_tcp_retransmit_skb___err)(void *, const struct sock *,
						   const struct sk_buff *, int);

struct trace_event_raw_tcp_retransmit_skb___err {
	int err;
} __attribute__((preserve_access_index));

/* tp_btf/tcp_retransmit_skb arguments. */
static __always_inline void ks_tcp_retransmit_args(__u64 *ctx, struct ks_tcp_skb_args *out)
{
	out->sk = (const struct sock *)ctx[0];
	out->skb = (const struct sk_buff *)ctx[1];
	out->err = bpf_core_type_exists(btf_trace_tcp_retransmit_skb___err) ? (int)ctx[2] : 0;
}

/* tracepoint/tcp/tcp_retransmit_skb record (the context): direct loads. */
static __always_inline void ks_tcp_retransmit_record(void *ctx, struct ks_tcp_skb_args *out)
{
	const struct ks_tcp_sk_skb_record *r = ctx;
	struct trace_event_raw_tcp_retransmit_skb___err *e = ctx;

	out->sk = r->skaddr;
	out->skb = r->skbaddr;
	out->err = bpf_core_field_exists(e->err) ? e->err : 0;
}

/*
 * commit ("trace: tcp: fully support trace_tcp_send_reset", Jason Xing,
 * v6.10) traces resets that answer a packet no socket matches (sk NULL) as
 * well; before, only resets sent for a full socket were traced. The record
 * prefix is the same either way.
 */
static __always_inline void ks_tcp_send_reset_record(void *ctx, struct ks_tcp_skb_args *out)
{
	const struct ks_tcp_sk_skb_record *r = ctx;

	out->sk = r->skaddr;
	out->skb = r->skbaddr;
	out->err = 0;
}

#endif /* KERNSCOPE_CORE_FIXES_BPF_H */
