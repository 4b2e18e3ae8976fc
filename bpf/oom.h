/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * oom: one ring record per process the OOM killer picks (oom:mark_victim),
 * and the count of them in a per-CPU array (exact even when the ring is full,
 * and present at 0 before the first kill).
 */
#ifndef KERNSCOPE_OOM_H
#define KERNSCOPE_OOM_H

#include "record.h"

enum { OOM_RECORD_VERSION = 1 };

/*
 * hdr describes the task that ran the OOM killer (the one whose allocation
 * failed); the victim_* fields and comm describe the victim. Fields the
 * attach variant in use cannot know are 0 (see bpf/oom.bpf.c).
 */
struct oom_record {
	struct ks_record_header hdr;
	__u32 victim_pid; /* process id (tgid) of the victim */
	__u32 victim_uid;
	__u64 victim_cgroup_id; /* cgroup v2 id of the victim */
	__u64 memcg_id; /* id of the victim's memory cgroup (v1 or v2 hierarchy) */
	char comm[KS_COMM_LEN]; /* the victim's */
	char trigger_comm[KS_COMM_LEN]; /* the task's that ran the OOM killer */
};

_Static_assert(sizeof(struct oom_record) == 88, "oom_record is ABI");

/* oom_kills has one slot, index 0. */
struct oom_key {
	__u32 index;
};

struct oom_count {
	__u64 kills;
};

#endif /* KERNSCOPE_OOM_H */
