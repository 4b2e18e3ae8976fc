/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * runqueue: how long runnable tasks wait for a CPU, as one log2 histogram
 * aggregated in the kernel (it runs on every context switch). User space
 * reads it at collection time; `kernscope trace runqueue` alone gets a ring
 * record per wait.
 */
#ifndef KERNSCOPE_RUNQUEUE_H
#define KERNSCOPE_RUNQUEUE_H

#include "histogram.h"
#include "record.h"

enum { RUNQUEUE_RECORD_VERSION = 1 };

/* Task cgroups kept apart when attribution is on (beyond: waits count as lost). */
#define KS_RUNQUEUE_MAX_CGROUPS 256

struct runqueue_key {
	__u64 cgroup_id; /* the waiting task's cgroup v2 id when attribution is on, else 0 */
};

struct runqueue_stats {
	__u64 sum_ns;
	__u64 slots[KS_HISTOGRAM_SLOTS]; /* wait (bpf/histogram.h); sums to the wait count */
};

/*
 * One wait, ended by sched_switch (only while targ_trace is set). hdr is the
 * current task there: the one leaving the CPU (prev_pid, prev_comm); the
 * other fields describe the task that waited and now runs.
 */
struct runqueue_trace_record {
	struct ks_record_header hdr;
	__u32 pid; /* thread id of the task that waited */
	__u32 tgid; /* its process id */
	__u64 latency_ns; /* runnable to running */
	__u32 prev_pid; /* thread id of the task it replaced on this CPU (0: idle) */
	__u32 pad;
	char comm[KS_COMM_LEN]; /* the task's that waited */
	char prev_comm[KS_COMM_LEN];
};

_Static_assert(sizeof(struct runqueue_key) == 8, "runqueue_key is ABI");
_Static_assert(sizeof(struct runqueue_stats) == 8 + 8 * KS_HISTOGRAM_SLOTS,
	       "runqueue_stats is ABI");
_Static_assert(sizeof(struct runqueue_trace_record) == 88, "runqueue_trace_record is ABI");

#endif /* KERNSCOPE_RUNQUEUE_H */
