// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syscalls: count, latency histogram and errors per syscall, aggregated in
 * per-CPU maps (no ring-buffer record per call, except for `kernscope
 * trace`). The syscall_counts probe loads only the counting programs at the
 * end of this file: one program at sys_exit, no clock reads, for about half
 * the cost (bench/README.md).
 */
#include "kernscope.bpf.h"
#include "histogram.bpf.h"
#include "syscalls.h"

KS_EXPORT_TYPE(syscall_key);
KS_EXPORT_TYPE(syscall_stats);
KS_EXPORT_TYPE(syscall_count_key);
KS_EXPORT_TYPE(syscall_count);
KS_EXPORT_TYPE(syscall_error_key);
KS_EXPORT_TYPE(syscall_error_stats);
KS_EXPORT_TYPE(syscall_trace_record);

struct syscall_start {
	__u64 ts_ns; /* 0: no syscall in flight */
	__u32 id;
	__u32 pad;
};

/*
 * Per thread: when its current syscall started. Task storage where the
 * kernel offers it to the attached program (tp_btf; every tracing program
 * since 6.2): measured cheaper than a hash update and delete per call, and it
 * goes away with the thread (bench/README.md). Older kernels' raw_tp and
 * tracepoint variants use the hash. User space creates only the map the
 * chosen variants use.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct syscall_start);
} syscall_task_starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct syscall_start);
} syscall_starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct syscall_key);
	__type(value, struct syscall_stats);
} syscall_stats SEC(".maps");

/* Count each calling task's cgroup apart (user space labels it namespace/pod/container). */
const volatile bool targ_attribute = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct syscall_count_key);
	__type(value, struct syscall_count);
} syscall_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct syscall_error_key);
	__type(value, struct syscall_error_stats);
} syscall_errors SEC(".maps");

/*
 * Latency is measured on 1 in targ_latency_every calls per CPU (1: every
 * call); counts and errors stay exact. An unsampled call costs sys_enter a
 * per-CPU countdown and sys_exit a start lookup that finds nothing, instead
 * of two clock reads and a start record written and cleared (bench/README.md).
 */
const volatile __u32 targ_latency_every = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} latency_countdown SEC(".maps");

/* Whether this call is one whose latency is measured. */
static __always_inline bool sampled(void)
{
	__u32 zero = 0, *left;

	if (targ_latency_every <= 1)
		return true; /* a load-time constant: the verifier drops the rest */
	left = bpf_map_lookup_elem(&latency_countdown, &zero);
	if (!left)
		return false;
	if (*left) {
		*left -= 1; /* per-CPU, and sys_enter does not nest on a CPU: no atomic needed */
		return false;
	}
	*left = targ_latency_every - 1;
	return true;
}

/* Where the current thread's start record lives; NULL if it has none (and cannot get one). */
static __always_inline struct syscall_start *task_start(bool create)
{
	return bpf_task_storage_get(&syscall_task_starts, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline int on_enter(long id, bool in_task_storage)
{
	struct syscall_start *start;

	if (id < 0 || ks_skip_current() || !sampled())
		return 0;
	if (in_task_storage) {
		start = task_start(true);
		if (!start) {
			ks_count_drop(); /* no memory, or storage busy on this CPU */
			return 0;
		}
		start->id = id;
		start->ts_ns = bpf_ktime_get_ns();
	} else {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct syscall_start fresh = {.id = id, .ts_ns = bpf_ktime_get_ns()};

		if (bpf_map_update_elem(&syscall_starts, &tid, &fresh, BPF_ANY))
			ks_count_drop(); /* table full: this call goes unmeasured */
	}
	return 0;
}

/* Counts a finished syscall, and its latency when it was measured (`timed`). */
static __always_inline void count_exit(__u32 id, __u64 delta, long ret, bool timed)
{
	static const struct syscall_stats zero_stats;
	struct syscall_count_key count_key = {.id = id};

	if (targ_attribute)
		count_key.cgroup_id = bpf_get_current_cgroup_id();
	ks_count_in(&syscall_counts, &count_key);
	if (timed) {
		struct syscall_key key = {.id = id};
		struct syscall_stats *stats = ks_lookup_or_init(&syscall_stats, &key, &zero_stats);

		/* Per-CPU value: plain adds are safe. */
		if (stats) {
			stats->sum_ns += delta;
			stats->slots[ks_latency_slot(delta)]++;
		}
	}

	if (ret < 0 && ret >= -4095) {
		struct syscall_error_key ekey = {.id = id, .err = -ret};
		__u64 one = 1, *errors = bpf_map_lookup_elem(&syscall_errors, &ekey);

		if (errors)
			(*errors)++;
		else if (bpf_map_update_elem(&syscall_errors, &ekey, &one, BPF_NOEXIST))
			ks_count_drop();
	}
}

/* `kernscope trace`: the finished call as a ring record, if it took at least targ_trace_min_ns. */
static __always_inline void trace_exit(__u32 id, __u64 delta, long ret)
{
	struct syscall_trace_record *rec;

	if (delta < targ_trace_min_ns)
		return;
	rec = ks_reserve(sizeof(*rec), KS_RECORD_SYSCALL, SYSCALL_RECORD_VERSION);
	if (!rec)
		return;
	rec->id = id;
	rec->pad = 0;
	rec->ret = ret;
	rec->latency_ns = delta;
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	ks_submit(rec);
}

/*
 * Every call is counted here (its number from the exit hook); its latency is
 * measured when sys_enter sampled it and this thread's start record says so.
 */
static __always_inline int on_exit(long id, long ret, bool in_task_storage)
{
	struct syscall_start *start;
	__u64 started, delta;
	__u32 tid = 0;

	if (id < 0 || ks_skip_current())
		return 0;
	if (in_task_storage) {
		start = task_start(false);
	} else {
		tid = (__u32)bpf_get_current_pid_tgid();
		start = bpf_map_lookup_elem(&syscall_starts, &tid);
	}
	/* No start: not sampled, began before we attached, or a start of another call left over. */
	if (!start || !start->ts_ns || start->id != id) {
		count_exit(id, 0, ret, false);
		return 0;
	}
	started = start->ts_ns;
	if (in_task_storage)
		start->ts_ns = 0;
	else
		bpf_map_delete_elem(&syscall_starts, &tid);
	delta = bpf_ktime_get_ns() - started;
	/*
	 * A load-time constant: for the agent the verifier drops this branch
	 * and only the constant's load remains. Before count_exit, so that id,
	 * delta and ret need not outlive its helper calls (spills otherwise).
	 */
	if (targ_trace)
		trace_exit(id, delta, ret);
	count_exit(id, delta, ret, true);
	return 0;
}

/*
 * The syscall number at sys_exit, from the saved registers: tp_btf reads them
 * directly (a trusted pointer); raw_tp needs a probe read.
 */
#if defined(__TARGET_ARCH_arm64)
#define KS_SYSCALL_NR syscallno
#else
#define KS_SYSCALL_NR orig_ax
#endif

SEC("tp_btf/sys_enter")
int BPF_PROG(syscalls_enter_tp_btf, struct pt_regs *regs, long id)
{
	return on_enter(id, true);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(syscalls_exit_tp_btf, struct pt_regs *regs, long ret)
{
	return on_exit(regs->KS_SYSCALL_NR, ret, true);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(syscalls_enter_raw_tp, struct pt_regs *regs, long id)
{
	return on_enter(id, false);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(syscalls_exit_raw_tp, struct pt_regs *regs, long ret)
{
	return on_exit(BPF_CORE_READ(regs, KS_SYSCALL_NR), ret, false);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int syscalls_enter_tracepoint(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->id, false);
}

SEC("tracepoint/raw_syscalls/sys_exit")
int syscalls_exit_tracepoint(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->id, ctx->ret, false);
}

/* Counting only (syscall_counts): no sys_enter program, no start records. */
static __always_inline int count_only(long id, long ret)
{
	if (id < 0 || ks_skip_current())
		return 0;
	count_exit(id, 0, ret, false);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(syscall_counts_tp_btf, struct pt_regs *regs, long ret)
{
	return count_only(regs->KS_SYSCALL_NR, ret);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(syscall_counts_raw_tp, struct pt_regs *regs, long ret)
{
	return count_only(BPF_CORE_READ(regs, KS_SYSCALL_NR), ret);
}

SEC("tracepoint/raw_syscalls/sys_exit")
int syscall_counts_tracepoint(struct trace_event_raw_sys_exit *ctx)
{
	return count_only(ctx->id, ctx->ret);
}
