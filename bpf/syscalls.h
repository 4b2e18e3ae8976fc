/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * syscalls: aggregated in the kernel (syscalls are too hot for a record each;
 * see bench/README.md). User space reads these maps at collection time;
 * `kernscope trace syscalls` alone gets a ring record per call.
 */
#ifndef KERNSCOPE_SYSCALLS_H
#define KERNSCOPE_SYSCALLS_H

#include "histogram.h"
#include "record.h"

enum { SYSCALL_RECORD_VERSION = 1 };

struct syscall_key {
	__u32 id; /* syscall number of the traced task's ABI */
};

/* Counted apart per task cgroup when attribution is on: counts only, small per-CPU values. */
struct syscall_count_key {
	__u32 id;
	__u32 pad;
	__u64 cgroup_id; /* the calling task's cgroup v2 id when attribution is on, else 0 */
};

struct syscall_count {
	__u64 count;
};

/* Latency per syscall, node-wide: a histogram per cgroup would cost 536 bytes (schema 0) per CPU each. */
struct syscall_stats {
	__u64 sum_ns;
	__u64 slots[KS_HISTOGRAM_SLOTS]; /* latency (bpf/histogram.h); their sum is the count */
};

struct syscall_error_key {
	__u32 id;
	__s32 err; /* positive errno */
};

struct syscall_error_stats {
	__u64 count;
};

/* One finished syscall (only while targ_trace is set); hdr is the calling thread. */
struct syscall_trace_record {
	struct ks_record_header hdr;
	__u32 id; /* syscall number of the calling task's ABI */
	__u32 pad;
	__s64 ret; /* return value; -4095..-1 is a negated errno */
	__u64 latency_ns; /* sys_enter to sys_exit */
	char comm[KS_COMM_LEN];
};

_Static_assert(sizeof(struct syscall_count_key) == 16, "syscall_count_key is ABI");
_Static_assert(sizeof(struct syscall_count) == 8, "syscall_count is ABI");
_Static_assert(sizeof(struct syscall_stats) == 8 + 8 * KS_HISTOGRAM_SLOTS, "syscall_stats is ABI");
_Static_assert(sizeof(struct syscall_error_key) == 8, "syscall_error_key is ABI");
_Static_assert(sizeof(struct syscall_trace_record) == 72, "syscall_trace_record is ABI");

#endif /* KERNSCOPE_SYSCALLS_H */
