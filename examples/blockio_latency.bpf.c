// SPDX-License-Identifier: GPL-2.0-only
/*
 * blockio_latency: block request latency, from block_rq_issue (handed to
 * the driver) to block_rq_complete, by disk and operation, in microseconds.
 * A request is keyed by its address while in flight. A partial completion
 * (blk_update_request finishing part of a request) leaves it in flight; the
 * completion that covers the rest ends it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

#define MAX_BUCKET 26 /* 2^26 us, 67 s */
#define REQ_OP_MASK 0xff /* REQ_OP_BITS (include/linux/blk_types.h) */

char LICENSE[] SEC("license") = "GPL";

struct blockio_key {
	__u32 dev; /* user-space dev_t encoding, as the majorminor decoder reads it */
	__u32 op; /* REQ_OP_READ (0), REQ_OP_WRITE (1), ... */
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); /* struct request * */
	__type(value, __u64); /* issue time, ns */
} blockio_starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct blockio_key);
	__type(value, __u64);
} blockio_latency_seconds SEC(".maps");

/* new_encode_dev(): what stat(2) reports for the device and unix.Major/Minor decode. */
static __always_inline __u32 encode_dev(__u32 major, __u32 minor)
{
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(block_rq_issue, struct request *rq)
{
	__u64 id = (__u64)rq, ts = bpf_ktime_get_ns();

	/* A requeued request is issued again: the later issue replaces the first. */
	bpf_map_update_elem(&blockio_starts, &id, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	struct blockio_key key = {};
	struct gendisk *disk;
	__u64 id = (__u64)rq, *start, delta_us;

	start = bpf_map_lookup_elem(&blockio_starts, &id);
	if (!start)
		return 0; /* issued before the probe attached */
	/* The tracepoint fires before __data_len is reduced by nr_bytes. */
	if (nr_bytes < BPF_CORE_READ(rq, __data_len))
		return 0;
	delta_us = (bpf_ktime_get_ns() - *start) / 1000;
	bpf_map_delete_elem(&blockio_starts, &id);

	disk = BPF_CORE_READ(rq, q, disk);
	if (disk)
		key.dev = encode_dev(BPF_CORE_READ(disk, major), BPF_CORE_READ(disk, first_minor));
	key.op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;
	ksx_exp2_add(&blockio_latency_seconds, &key, MAX_BUCKET, delta_us);
	return 0;
}
