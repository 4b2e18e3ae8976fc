/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * syscalls: aggregated in the kernel (syscalls are too hot for a record each;
 * see bench/README.md). User space reads these maps at collection time.
 */
#ifndef KERNSCOPE_SYSCALLS_H
#define KERNSCOPE_SYSCALLS_H

#include "histogram.h"

struct syscall_key {
	__u32 id; /* syscall number of the traced task's ABI */
};

struct syscall_stats {
	__u64 count;
	__u64 sum_ns;
	__u64 slots[KS_LOG2_SLOTS]; /* log2(latency ns) histogram */
};

struct syscall_error_key {
	__u32 id;
	__s32 err; /* positive errno */
};

struct syscall_error_stats {
	__u64 count;
};

_Static_assert(sizeof(struct syscall_stats) == 16 + 8 * KS_LOG2_SLOTS, "syscall_stats is ABI");
_Static_assert(sizeof(struct syscall_error_key) == 8, "syscall_error_key is ABI");

#endif /* KERNSCOPE_SYSCALLS_H */
