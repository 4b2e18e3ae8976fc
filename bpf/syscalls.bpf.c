// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syscalls: count, latency histogram and errors per syscall, aggregated in
 * per-CPU maps (no ring-buffer record per call).
 */
#include "kernscope.bpf.h"
#include "histogram.bpf.h"
#include "syscalls.h"

KS_EXPORT_TYPE(syscall_key);
KS_EXPORT_TYPE(syscall_stats);
KS_EXPORT_TYPE(syscall_error_key);
KS_EXPORT_TYPE(syscall_error_stats);

struct syscall_start {
	__u64 ts_ns;
	__u32 id;
	__u32 pad;
};

/* Per thread: when its current syscall started. */
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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct syscall_error_key);
	__type(value, struct syscall_error_stats);
} syscall_errors SEC(".maps");

static __always_inline int on_enter(long id)
{
	struct syscall_start start = {};
	__u32 tid;

	if (id < 0 || ks_skip_current())
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	start.ts_ns = bpf_ktime_get_ns();
	start.id = id;
	if (bpf_map_update_elem(&syscall_starts, &tid, &start, BPF_ANY))
		ks_count_drop(); /* table full: this call goes uncounted */
	return 0;
}

static __always_inline int on_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_start *start;
	struct syscall_stats *stats;
	struct syscall_key key = {};
	__u64 delta;

	start = bpf_map_lookup_elem(&syscall_starts, &tid);
	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - start->ts_ns;
	key.id = start->id;
	bpf_map_delete_elem(&syscall_starts, &tid);

	stats = bpf_map_lookup_elem(&syscall_stats, &key);
	if (!stats) {
		struct syscall_stats zero = {};

		bpf_map_update_elem(&syscall_stats, &key, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&syscall_stats, &key);
		if (!stats) {
			ks_count_drop();
			return 0;
		}
	}
	/* Per-CPU value: plain adds are safe. */
	stats->count++;
	stats->sum_ns += delta;
	stats->slots[ks_log2_slot(delta)]++;

	if (ret < 0 && ret >= -4095) {
		struct syscall_error_key ekey = {.id = key.id, .err = -ret};
		__u64 one = 1, *errors = bpf_map_lookup_elem(&syscall_errors, &ekey);

		if (errors)
			(*errors)++;
		else if (bpf_map_update_elem(&syscall_errors, &ekey, &one, BPF_NOEXIST))
			ks_count_drop();
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(syscalls_enter_tp_btf, struct pt_regs *regs, long id)
{
	return on_enter(id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(syscalls_exit_tp_btf, struct pt_regs *regs, long ret)
{
	return on_exit(ret);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(syscalls_enter_raw_tp, struct pt_regs *regs, long id)
{
	return on_enter(id);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(syscalls_exit_raw_tp, struct pt_regs *regs, long ret)
{
	return on_exit(ret);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int syscalls_enter_tracepoint(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->id);
}

SEC("tracepoint/raw_syscalls/sys_exit")
int syscalls_exit_tracepoint(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}
