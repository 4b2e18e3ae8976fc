// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * oom: processes the OOM killer picks, from oom:mark_victim. Counted once per
 * process (the killer also marks other threads of a victim that allocate
 * while dying, and tasks that are exiting anyway), into a per-CPU array, and
 * described by a ring record (struct oom_record) for the event stream.
 *
 * The filters (ks_skip_task()) apply to the victim, not to the task that ran
 * the killer: a global OOM can start anywhere and kill anywhere.
 */
#include "kernscope.bpf.h"
#include "core_fixes.bpf.h"
#include "oom.h"

KS_EXPORT_TYPE(oom_record);
KS_EXPORT_TYPE(oom_key);
KS_EXPORT_TYPE(oom_count);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct oom_count);
} oom_kills SEC(".maps");

/* A process: its tgid and its leader's start time (pids are reused). */
struct oom_victim_key {
	__u64 start_ns; /* 0 when the victim's task is unknown: tgid is a thread id then */
	__u32 tgid;
	__u32 pad;
};

/* Victims already counted; LRU: old ones make room for new ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct oom_victim_key);
	__type(value, __u8);
} oom_seen SEC(".maps");

/* The cgroup of `task` that the memory controller uses (v1 or v2 hierarchy), 0 without memcg. */
static __always_inline __u64 task_memcg_id(struct task_struct *task)
{
	struct cgroup_subsys_state *css = NULL;
	struct css_set *cset;
	int id;

	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return 0;
	id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	cset = BPF_CORE_READ(task, cgroups);
	if (!cset || bpf_core_read(&css, sizeof(css), &cset->subsys[id]) || !css)
		return 0;
	return BPF_CORE_READ(css, cgroup, kn, id);
}

static __always_inline int on_victim(struct task_struct *task, __u32 tgid, __u32 uid,
				     const char *comm)
{
	struct oom_victim_key key = {.tgid = tgid};
	struct oom_record *rec;
	struct oom_count *count;
	__u32 zero = 0;
	__u8 one = 1;

	/*
	 * The filters, applied to the victim as far as the attach variant
	 * knows it: its task, or NULL when only its thread id (passed as tgid)
	 * and perhaps its comm (kernel memory) are known; then the current task
	 * stands in for what is unknown (a memcg OOM starts inside the memcg).
	 */
	if (ks_skip_task(task, tgid, comm))
		return 0;
	if (task)
		key.start_ns = BPF_CORE_READ(task, group_leader, start_time);
	if (bpf_map_update_elem(&oom_seen, &key, &one, BPF_NOEXIST))
		return 0; /* this process was counted already */
	count = bpf_map_lookup_elem(&oom_kills, &zero);
	if (count)
		count->kills++; /* per-CPU slot: no atomic needed */

	rec = ks_reserve(sizeof(*rec), KS_RECORD_OOM, OOM_RECORD_VERSION);
	if (!rec)
		return 0;
	rec->victim_pid = tgid;
	rec->victim_uid = uid;
	rec->victim_cgroup_id = 0;
	rec->memcg_id = 0;
	__builtin_memset(rec->comm, 0, sizeof(rec->comm));
	if (task) {
		rec->victim_cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
		rec->memcg_id = task_memcg_id(task);
		BPF_CORE_READ_STR_INTO(&rec->comm, task, comm);
	} else if (comm) {
		bpf_probe_read_kernel_str(rec->comm, sizeof(rec->comm), comm);
	}
	bpf_get_current_comm(rec->trigger_comm, sizeof(rec->trigger_comm));
	ks_submit(rec);
	return 0;
}

/*
 * mark_victim(task, uid) since commit 72ba14deb40a ("mm: update mark_victim
 * tracepoints fields", 2024; backported to 6.1.y stable), mark_victim(int pid)
 * before. The direct task->tgid read is deliberate: where argument 0 is the
 * pid, the verifier refuses this program (a scalar is no pointer) and the
 * loader falls back to the tracepoint.
 */
SEC("tp_btf/mark_victim")
int BPF_PROG(oom_tp_btf, struct task_struct *task, uid_t uid)
{
	return on_victim(task, task->tgid, uid, NULL);
}

/*
 * The record has the victim's thread id in every kernel, its comm and uid
 * since the change above. When the victim is the current task or its
 * thread-group leader (the usual memcg OOM: the victim's own allocation
 * failed) everything is read from the task; otherwise the cgroup ids stay 0,
 * the pid is the victim's thread id, and the cgroup filter judges the current
 * task instead.
 */
SEC("tracepoint/oom/mark_victim")
int oom_tracepoint(struct trace_event_raw_mark_victim *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = ctx->pid, tgid = pid_tgid >> 32, uid = 0;
	/* the victim is the current task, or the leader of its thread group */
	bool ours = pid == (__u32)pid_tgid || pid == tgid;
	const char *comm = NULL;

	if (bpf_core_field_exists(ctx->uid))
		uid = ctx->uid;
	else if (ours)
		uid = (__u32)bpf_get_current_uid_gid(); /* same process, same credentials */
	if (ours)
		return on_victim(pid == tgid ? BPF_CORE_READ(task, group_leader) : task, tgid, uid,
				 NULL);
	if (bpf_core_field_exists(ctx->__data_loc_comm))
		comm = ks_data_loc(ctx, ctx->__data_loc_comm);
	return on_victim(NULL, pid, uid, comm);
}
