// SPDX-License-Identifier: GPL-2.0-only
/*
 * timer_starts: timer_list timers started (add_timer, mod_timer and
 * friends), by the function the timer will call. A classic tracepoint: its
 * record carries the function address, so the program reads no kernel
 * memory. Needs tracefs (/sys/kernel/tracing) to attach.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* the callback's address */
	__type(value, __u64);
} timer_starts_total SEC(".maps");

SEC("tracepoint/timer/timer_start")
int timer_start(struct trace_event_raw_timer_start *ctx)
{
	__u64 function = (__u64)ctx->function;

	ksx_add(&timer_starts_total, &function, 1);
	return 0;
}
