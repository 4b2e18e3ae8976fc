/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * runqueue: how long runnable tasks wait for a CPU, as one log2 histogram
 * aggregated in the kernel (it runs on every context switch). User space
 * reads it at collection time.
 */
#ifndef KERNSCOPE_RUNQUEUE_H
#define KERNSCOPE_RUNQUEUE_H

#include "histogram.h"

/* Index into the one-slot per-CPU array (array keys are plain u32s in the map). */
/* Task cgroups kept apart when attribution is on (beyond: waits count as lost). */
#define KS_RUNQUEUE_MAX_CGROUPS 256

struct runqueue_key {
	__u64 cgroup_id; /* the waiting task's cgroup v2 id when attribution is on, else 0 */
};

struct runqueue_stats {
	__u64 count;
	__u64 sum_ns;
	__u64 slots[KS_LOG2_SLOTS]; /* log2(wait ns) histogram */
};

_Static_assert(sizeof(struct runqueue_key) == 8, "runqueue_key is ABI");
_Static_assert(sizeof(struct runqueue_stats) == 16 + 8 * KS_LOG2_SLOTS, "runqueue_stats is ABI");

#endif /* KERNSCOPE_RUNQUEUE_H */
