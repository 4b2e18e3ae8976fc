// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * runqueue: run-queue latency, the time from a task becoming runnable (woken
 * up, newly created, or preempted while still runnable) until it runs, in a
 * per-CPU log2 histogram. Every context switch runs this, so nothing leaves
 * the kernel per event, except for `kernscope trace` (targ_trace): then each
 * wait of at least targ_trace_min_ns is also a ring record.
 *
 * The pid/cgroup/comm filters apply to the task that waits, not to the
 * current task: a wakeup usually runs in the waker's (or an interrupt's)
 * context. They are checked when the task becomes runnable; only tasks that
 * pass get a start timestamp, so the switch-in side needs no check.
 */
#include "kernscope.bpf.h"
#include "histogram.bpf.h"
#include "core_fixes.bpf.h"
#include "runqueue.h"

KS_EXPORT_TYPE(runqueue_key);
KS_EXPORT_TYPE(runqueue_stats);
KS_EXPORT_TYPE(runqueue_trace_record);

#define KS_TASK_RUNNING 0 /* include/linux/sched.h */
#define EEXIST 17

/* task_struct::on_cpu exists on SMP kernels only; a UP kernel runs one task. */
static __always_inline bool ks_task_on_cpu(struct task_struct *task)
{
	if (bpf_core_field_exists(task->on_cpu))
		return BPF_CORE_READ(task, on_cpu);
	return false;
}

/* Per task (thread id): when it became runnable. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} runqueue_starts SEC(".maps");

/* Count each waiting task's cgroup apart (user space labels it namespace/pod/container). */
const volatile bool targ_attribute = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, KS_RUNQUEUE_MAX_CGROUPS);
	__type(key, struct runqueue_key);
	__type(value, struct runqueue_stats);
} runqueue_stats SEC(".maps");

/* Preempted while still runnable: it waits in the queue from now on. */
static __always_inline void preempted(struct task_struct *task)
{
	__u32 pid = BPF_CORE_READ(task, pid);
	__u64 ts;

	if (!pid || ks_skip_task(task, 0, NULL))
		return; /* pid 0: a CPU's idle task */
	ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&runqueue_starts, &pid, &ts, BPF_ANY))
		ks_count_drop(); /* table full: this wait goes unmeasured */
}

/*
 * Woken (or new). A wakeup also fires for a task that is still running (it
 * had set its state but not yet called schedule()): no wait starts then. And
 * it fires for a preempted task already in the queue: its wait began at the
 * preemption, so an existing start is kept (the kernel's own run_delay
 * accounting agrees).
 */
static __always_inline void woken(struct task_struct *task)
{
	__u32 pid = BPF_CORE_READ(task, pid);
	__u64 ts;
	/*
	 * An int, not the helper's long: kernels whose map ops returned int
	 * (before they were made to return long, 2023) can hand back -EEXIST
	 * with the upper 32 bits clear, which a 64-bit compare takes for
	 * another error. 6.1 does (a lost event every minute or so under the
	 * kernel matrix); bcc's libbpf-tools work around it the same way.
	 */
	int err;

	if (!pid || ks_task_on_cpu(task) || ks_skip_task(task, 0, NULL))
		return;
	ts = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&runqueue_starts, &pid, &ts, BPF_NOEXIST);
	if (err && err != -EEXIST)
		ks_count_drop();
}

/* `kernscope trace`: the wait `next` ends, in a ring record, if it lasted at least targ_trace_min_ns. */
static __always_inline void trace_wait(struct task_struct *prev, struct task_struct *next,
				       __u32 pid, __u64 delta)
{
	struct runqueue_trace_record *rec;

	if (delta < targ_trace_min_ns)
		return;
	rec = ks_reserve(sizeof(*rec), KS_RECORD_RUNQUEUE, RUNQUEUE_RECORD_VERSION);
	if (!rec)
		return;
	rec->pid = pid;
	rec->tgid = BPF_CORE_READ(next, tgid);
	rec->latency_ns = delta;
	rec->prev_pid = BPF_CORE_READ(prev, pid);
	rec->pad = 0;
	BPF_CORE_READ_STR_INTO(&rec->comm, next, comm);
	BPF_CORE_READ_STR_INTO(&rec->prev_comm, prev, comm);
	ks_submit(rec);
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev,
				     struct task_struct *next)
{
	static const struct runqueue_stats zero;
	struct runqueue_stats *stats;
	struct runqueue_key key = {};
	__u64 *start, delta;
	__u32 pid;

	if (preempt || ks_task_state(prev) == KS_TASK_RUNNING)
		preempted(prev);

	pid = BPF_CORE_READ(next, pid);
	start = bpf_map_lookup_elem(&runqueue_starts, &pid);
	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&runqueue_starts, &pid);
	/* A load-time constant: for the agent the verifier drops this branch. */
	if (targ_trace)
		trace_wait(prev, next, pid, delta);

	if (targ_attribute)
		key.cgroup_id = BPF_CORE_READ(next, cgroups, dfl_cgrp, kn, id);
	stats = ks_lookup_or_init(&runqueue_stats, &key, &zero);
	if (!stats)
		return 0; /* more cgroups than the map holds: counted as lost */
	/* Per-CPU value, and sched_switch runs with interrupts off: plain adds. */
	stats->sum_ns += delta;
	stats->slots[ks_latency_slot(delta)]++;
	return 0;
}

/*
 * Prototypes: sched_wakeup(p), sched_wakeup_new(p), and
 * sched_switch(preempt, prev, next[, prev_state]); prev_state was appended
 * in v5.18 (commit fa2c3254d7cf), the first three never moved.
 */

SEC("tp_btf/sched_wakeup")
int BPF_PROG(runqueue_wakeup_tp_btf, struct task_struct *p)
{
	woken(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(runqueue_wakeup_new_tp_btf, struct task_struct *p)
{
	woken(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runqueue_switch_tp_btf, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(runqueue_wakeup_raw_tp, struct task_struct *p)
{
	woken(p);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(runqueue_wakeup_new_raw_tp, struct task_struct *p)
{
	woken(p);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(runqueue_switch_raw_tp, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}
