// SPDX-License-Identifier: GPL-2.0-only
/*
 * softirqs: how long softirq handlers run (softirq_entry to softirq_exit),
 * by kind, and how many ran. Softirqs do not nest on a CPU, so one start
 * time per CPU is enough; a handler already running when the probe attached
 * finds no start and is skipped.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "maps.bpf.h"

#define MAX_BUCKET 26 /* 2^26 ns, 67 ms: longer runs land here */
/* Every kind's buckets and sum. */
#define HISTOGRAM_KEYS (NR_SOFTIRQS * (MAX_BUCKET + 2))

char LICENSE[] SEC("license") = "GPL";

struct softirq_key {
	__u32 kind; /* vec_nr: HI_SOFTIRQ (0) .. RCU_SOFTIRQ (9) */
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} softirq_starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, __u64);
} softirqs_total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, HISTOGRAM_KEYS);
	__type(key, struct softirq_key);
	__type(value, __u64);
} softirq_duration_seconds SEC(".maps");

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirq_entry, unsigned int vec_nr)
{
	__u32 zero = 0;
	__u64 *start = bpf_map_lookup_elem(&softirq_starts, &zero);

	if (start)
		*start = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirq_exit, unsigned int vec_nr)
{
	struct softirq_key key = {.kind = vec_nr};
	__u64 *start, *count, delta;
	__u32 zero = 0;

	start = bpf_map_lookup_elem(&softirq_starts, &zero);
	if (!start || !*start)
		return 0;
	delta = bpf_ktime_get_ns() - *start;
	*start = 0;

	/* Per-CPU values, and a program does not run inside itself: plain adds suffice. */
	count = bpf_map_lookup_elem(&softirqs_total, &key.kind);
	if (count)
		*count += 1;
	ksx_exp2_add(&softirq_duration_seconds, &key, MAX_BUCKET, delta);
	return 0;
}
