// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * process: execs, forks and exits of processes (not threads).
 * - exec: one ring record per successful execve (struct exec_record), from
 *   sched_process_exec. The `exec` probe loads only these programs.
 * - fork: +1 in process_forks when the child leads a new thread group.
 * - exit: +1 in process_exits[reason] when a thread-group leader exits,
 *   unless an exec in another of its threads is replacing it.
 * Forks and exits can burst, and need no record: per-CPU hashes read at
 * collection time, keyed by the task's cgroup when attribution is on.
 *
 * The fork and exit programs are not autoloaded ("?"): a plain open of this
 * object loads the exec programs only. The loader switches every program
 * explicitly anyway.
 */
#include "kernscope.bpf.h"
#include "core_fixes.bpf.h"
#include "exec.h"
#include "process.h"

KS_EXPORT_TYPE(exec_record);
KS_EXPORT_TYPE(process_fork_key);
KS_EXPORT_TYPE(process_exit_key);
KS_EXPORT_TYPE(process_count);

#define KS_CLONE_THREAD 0x00010000 /* include/uapi/linux/sched.h */

/* Count each task's cgroup apart (user space labels it namespace/pod/container). */
const volatile bool targ_attribute = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PROCESS_MAX_CGROUPS);
	__type(key, struct process_fork_key);
	__type(value, struct process_count);
} process_forks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2 * PROCESS_MAX_CGROUPS); /* a key per exit reason */
	__type(key, struct process_exit_key);
	__type(value, struct process_count);
} process_exits SEC(".maps");

static __always_inline __u64 current_cgroup(void)
{
	return targ_attribute ? bpf_get_current_cgroup_id() : 0;
}

/* exec */

static __always_inline int emit_exec(struct task_struct *task, const char *filename)
{
	struct exec_record *rec;

	if (ks_skip_current())
		return 0;
	rec = ks_reserve(sizeof(*rec), KS_RECORD_EXEC, EXEC_RECORD_VERSION);
	if (!rec)
		return 0;
	rec->ppid = BPF_CORE_READ(task, real_parent, tgid);
	rec->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	bpf_probe_read_kernel_str(rec->filename, sizeof(rec->filename), filename);
	ks_submit(rec);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_tp_btf, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return emit_exec(task, BPF_CORE_READ(bprm, filename));
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw_tp, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return emit_exec(task, BPF_CORE_READ(bprm, filename));
}

SEC("tracepoint/sched/sched_process_exec")
int exec_tracepoint(struct trace_event_raw_sched_process_exec *ctx)
{
	const char *filename = ks_data_loc(ctx, ctx->__data_loc_filename);

	return emit_exec((struct task_struct *)bpf_get_current_task(), filename);
}

/* fork: runs in the parent, so the filters apply to the parent. */

static __always_inline int count_fork(bool new_process)
{
	struct process_fork_key key = {};

	if (!new_process || ks_skip_current())
		return 0;
	key.cgroup_id = current_cgroup(); /* the child's too: it starts in its parent's cgroup */
	ks_count_in(&process_forks, &key);
	return 0;
}

static __always_inline bool leads_thread_group(struct task_struct *task)
{
	return BPF_CORE_READ(task, pid) == BPF_CORE_READ(task, tgid);
}

SEC("?tp_btf/sched_process_fork")
int BPF_PROG(fork_tp_btf, struct task_struct *parent, struct task_struct *child)
{
	return count_fork(leads_thread_group(child));
}

SEC("?raw_tp/sched_process_fork")
int BPF_PROG(fork_raw_tp, struct task_struct *parent, struct task_struct *child)
{
	return count_fork(leads_thread_group(child));
}

/*
 * The classic sched_process_fork record carries the child's pid but not its
 * tgid, so thread and process cannot be told apart there. task_newtask fires
 * for the same new tasks (in copy_process(), past its last failure point, in
 * the parent) and records the clone flags.
 */
SEC("?tracepoint/task/task_newtask")
int fork_tracepoint(struct trace_event_raw_task_newtask *ctx)
{
	return count_fork(!(ctx->clone_flags & KS_CLONE_THREAD));
}

/* exit: runs in the exiting task. */

static __always_inline int count_exit(struct task_struct *task)
{
	struct process_exit_key key = {};

	if (!leads_thread_group(task) || ks_leader_replaced_by_exec(task) || ks_skip_current())
		return 0;
	/* do_exit() code: the signal number in the low 7 bits, else status << 8 */
	key.reason =
		BPF_CORE_READ(task, exit_code) & 0x7f ? PROCESS_EXIT_SIGNAL : PROCESS_EXIT_NORMAL;
	key.cgroup_id = current_cgroup();
	ks_count_in(&process_exits, &key);
	return 0;
}

/* Later kernels add a group_dead argument; only the task is used. */
SEC("?tp_btf/sched_process_exit")
int BPF_PROG(exit_tp_btf, struct task_struct *task)
{
	return count_exit(task);
}

SEC("?raw_tp/sched_process_exit")
int BPF_PROG(exit_raw_tp, struct task_struct *task)
{
	return count_exit(task);
}

SEC("?tracepoint/sched/sched_process_exit")
int exit_tracepoint(void *ctx)
{
	return count_exit((struct task_struct *)bpf_get_current_task());
}
