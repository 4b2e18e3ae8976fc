// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mapvalues: one map of each hash kind the probes use or users may (hash,
 * percpu_hash, lru_percpu_hash), with a 12-byte value, for the addon's test
 * of how values come back to user space: a per-CPU map's values one per
 * possible CPU, each rounded up to 8 bytes; any other map's one, as declared.
 * fill_maps, run with BPF_PROG_TEST_RUN, stores key args[0] with value
 * {args[1], args[1] + 1, args[1] + 2} in all three (on the CPU it runs on)
 * and returns how many updates failed.
 * Not a probe: the package leaves it out.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct mapvalues_value {
	__u32 words[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct mapvalues_value);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct mapvalues_value);
} percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct mapvalues_value);
} lru_percpu_hash SEC(".maps");

SEC("raw_tp")
int fill_maps(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 key = ctx->args[0];
	__u32 first = ctx->args[1];
	struct mapvalues_value value = {.words = {first, first + 1, first + 2}};

	return (bpf_map_update_elem(&hash, &key, &value, BPF_ANY) != 0) +
	       (bpf_map_update_elem(&percpu_hash, &key, &value, BPF_ANY) != 0) +
	       (bpf_map_update_elem(&lru_percpu_hash, &key, &value, BPF_ANY) != 0);
}
