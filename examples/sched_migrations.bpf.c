// SPDX-License-Identifier: GPL-2.0-only
/*
 * sched_migrations: tasks moved from one CPU to another, by the cgroup (v2)
 * of the task that moved. The tracepoint runs in the context of whoever
 * moves it (a waker, the load balancer, the migration thread), so the
 * cgroup is read from the migrated task, not from the current one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* cgroup id: the cgroup2 directory's inode number */
	__type(value, __u64);
} sched_migrations_total SEC(".maps");

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(sched_migrate_task, struct task_struct *task, int dest_cpu)
{
	__u64 cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);

	ksx_add(&sched_migrations_total, &cgroup_id, 1);
	return 0;
}
