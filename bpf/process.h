/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * process: forks and exits are counted in per-CPU arrays read at collection
 * time (no record each: they can burst); execs keep their ring record,
 * struct exec_record in exec.h. Counted are processes, not threads: a fork
 * whose child leads a new thread group, the exit of a thread-group leader.
 */
#ifndef KERNSCOPE_PROCESS_H
#define KERNSCOPE_PROCESS_H

/* process_forks has one slot, index 0. */
struct process_fork_key {
	__u32 index;
};

enum process_exit_reason {
	PROCESS_EXIT_NORMAL = 0, /* exit(), exit_group(), return from main */
	PROCESS_EXIT_SIGNAL = 1, /* killed by a signal (exit_code & 0x7f) */
	PROCESS_EXIT_REASONS,
};

/* process_exits is indexed by enum process_exit_reason. */
struct process_exit_key {
	__u32 reason;
};

struct process_count {
	__u64 count;
};

_Static_assert(sizeof(struct process_count) == 8, "process_count is ABI");

#endif /* KERNSCOPE_PROCESS_H */
