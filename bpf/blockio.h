/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * blockio: block request latency (issue to completion) and bytes, per disk
 * and operation, aggregated in the kernel (block I/O can be too hot for a
 * record each). User space reads these maps at collection time. Only for
 * `kernscope trace` (targ_trace) does each request also send a record.
 */
#ifndef KERNSCOPE_BLOCKIO_H
#define KERNSCOPE_BLOCKIO_H

#include "histogram.h"
#include "record.h"

/* Operation classes; the kernel's REQ_OP_* numbers map onto these. */
enum blockio_op {
	BLOCKIO_OP_READ = 0,
	BLOCKIO_OP_WRITE = 1,
	BLOCKIO_OP_FLUSH = 2,
	BLOCKIO_OP_DISCARD = 3,
	BLOCKIO_OP_OTHER = 4,
};

struct blockio_key {
	__u32 dev; /* the disk's dev_t, kernel encoding: major << 20 | minor */
	__u32 op; /* enum blockio_op */
};

/* Latency per disk and op, node-wide: a histogram per cgroup would cost 536 bytes (schema 0) per CPU each. */
struct blockio_stats {
	__u64 sum_ns; /* issue-to-completion time, summed */
	__u64 slots[KS_HISTOGRAM_SLOTS]; /* latency (bpf/histogram.h); sums to the request count */
};

/* Bytes per disk, op and owning cgroup (the request's blkcg) when attribution is on. */
struct blockio_bytes_key {
	__u32 dev;
	__u32 op;
	__u64 cgroup_id; /* 0 when attribution is off or the request has no blkcg */
};

struct blockio_bytes {
	__u64 bytes; /* bytes completed */
};

enum { BLOCKIO_TRACE_RECORD_VERSION = 1 };

/*
 * One completed request (`kernscope trace blockio`). hdr describes the
 * context the completion ran in (often an interrupt: an unrelated task);
 * tgid and comm are the task that issued the request.
 */
struct blockio_trace_record {
	struct ks_record_header hdr;
	__u32 dev; /* the disk's dev_t, kernel encoding: major << 20 | minor */
	__u32 op; /* enum blockio_op */
	__u64 sector; /* first 512-byte sector, at issue (0 for a flush) */
	__u64 bytes; /* the request's size, at issue */
	__u64 latency_ns; /* issue to completion */
	__u32 tgid; /* the issuing task's process id */
	__u32 pad;
	char comm[KS_COMM_LEN]; /* the issuing task's */
};

_Static_assert(sizeof(struct blockio_key) == 8, "blockio_key is ABI");
_Static_assert(sizeof(struct blockio_stats) == 8 + 8 * KS_HISTOGRAM_SLOTS, "blockio_stats is ABI");
_Static_assert(sizeof(struct blockio_bytes_key) == 16, "blockio_bytes_key is ABI");
_Static_assert(sizeof(struct blockio_trace_record) == 88, "blockio_trace_record is ABI");

#endif /* KERNSCOPE_BLOCKIO_H */
