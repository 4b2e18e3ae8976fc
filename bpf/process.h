/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * process: forks and exits are counted in per-CPU hashes read at collection
 * time (no record each: they can burst), keyed by cgroup when attribution is
 * on; execs keep their ring record, struct exec_record in exec.h. Counted are
 * processes, not threads: a fork whose child leads a new thread group, the
 * exit of a thread-group leader.
 */
#ifndef KERNSCOPE_PROCESS_H
#define KERNSCOPE_PROCESS_H

/* Cgroups counted apart in process_forks (twice that in process_exits); beyond, counted as lost. */
#define PROCESS_MAX_CGROUPS 4096

struct process_fork_key {
	__u64 cgroup_id; /* the forking task's cgroup v2 id when attribution is on, else 0 */
};

enum process_exit_reason {
	PROCESS_EXIT_NORMAL = 0, /* exit(), exit_group(), return from main */
	PROCESS_EXIT_SIGNAL = 1, /* killed by a signal (exit_code & 0x7f) */
	PROCESS_EXIT_REASONS,
};

struct process_exit_key {
	__u32 reason; /* enum process_exit_reason */
	__u32 pad;
	__u64 cgroup_id; /* the exiting task's cgroup v2 id when attribution is on, else 0 */
};

struct process_count {
	__u64 count;
};

_Static_assert(sizeof(struct process_count) == 8, "process_count is ABI");
_Static_assert(sizeof(struct process_exit_key) == 16, "process_exit_key is ABI");
_Static_assert(PROCESS_EXIT_REASONS == 2, "process_exits holds 2 keys per cgroup");

#endif /* KERNSCOPE_PROCESS_H */
