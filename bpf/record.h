/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The header every ring-buffer record starts with. This is ABI shared with
 * user space: fixed-width types, explicit padding, size asserted. User space
 * reads it through the object's BTF, so any change here is picked up there.
 */
#ifndef KERNSCOPE_RECORD_H
#define KERNSCOPE_RECORD_H

enum ks_record_type {
	KS_RECORD_EXEC = 1,
	KS_RECORD_OOM = 2,
	/* Trace records: only while `kernscope trace` runs (targ_trace). */
	KS_RECORD_TCP = 3,
	KS_RECORD_BLOCKIO = 4,
	KS_RECORD_SYSCALL = 5,
	KS_RECORD_RUNQUEUE = 6,
};

struct ks_record_header {
	__u16 type; /* enum ks_record_type */
	__u16 version; /* layout version of the record that follows */
	__u32 cpu;
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid; /* kernel task id (thread) */
	__u32 tgid; /* process id */
	__u64 cgroup_id; /* cgroup v2 id of the current task */
};

_Static_assert(sizeof(struct ks_record_header) == 32, "ks_record_header is ABI");

#define KS_COMM_LEN 16

#endif /* KERNSCOPE_RECORD_H */
