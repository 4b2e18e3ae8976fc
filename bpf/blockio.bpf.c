// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * blockio: block request latency (block_rq_issue to block_rq_complete) and
 * completed bytes, per disk and operation, aggregated in per-CPU maps.
 *
 * Issue runs in the context of whoever dispatches the request: usually the
 * task doing the I/O, but a kworker when the block layer dispatches from a
 * work queue (plugging, requeue, some schedulers). The pid/cgroup filter
 * applies there, to the current task. Completion usually runs in interrupt
 * or softirq context, where the current task is unrelated to the request,
 * so completions are matched to their issue and never filtered themselves.
 *
 * For `kernscope trace` (targ_trace) each completed request also sends a
 * struct blockio_trace_record naming the task that issued it. With
 * targ_trace off (the agent) the verifier prunes that code: the agent's path
 * is as before but for one load of targ_trace per run.
 */
#include "kernscope.bpf.h"
#include "histogram.bpf.h"
#include "core_fixes.bpf.h"
#include "blockio.h"

KS_EXPORT_TYPE(blockio_key);
KS_EXPORT_TYPE(blockio_stats);
KS_EXPORT_TYPE(blockio_bytes_key);
KS_EXPORT_TYPE(blockio_bytes);
KS_EXPORT_TYPE(blockio_trace_record);

/*
 * The operation is the low 8 bits of cmd_flags (REQ_OP_BITS, since commit
 * ef295ecf090d "block: better op and flags encoding", v4.10); REQ_OP_READ,
 * WRITE, FLUSH and DISCARD are 0..3 (include/linux/blk_types.h).
 */
#define KS_REQ_OP_MASK 0xff
/*
 * Passthrough operations (blk_op_is_passthrough): REQ_OP_DRV_IN/OUT (34, 35),
 * and REQ_OP_SCSI_IN/OUT (32, 33) until "block: remove REQ_OP_SCSI_{IN,OUT}"
 * (2021); no other operation is numbered 32 or above.
 */
#define KS_REQ_OP_PASSTHROUGH 32
#define KS_MINORBITS 20 /* kernel dev_t: major << 20 | minor */

/*
 * An in-flight request: its address for the BTF-typed variants; its disk and
 * start sector for the classic tracepoints, whose records carry no pointer.
 */
struct blockio_req {
	__u64 id;
	__u32 dev;
	__u32 pad;
};

struct blockio_start {
	__u64 ts_ns;
	__u64 remaining; /* bytes still to complete; 0: the next completion ends it */
	__u64 cgroup_id; /* the request's owner (blkcg) when attribution is on */
	__u32 dev;
	__u32 op;
};

/* Count each request's owning cgroup apart (user space labels it namespace/pod/container). */
const volatile bool targ_attribute = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct blockio_req);
	__type(value, struct blockio_start);
} blockio_starts SEC(".maps");

/* What a trace record needs from the issue; the agent's starts stay as small as before. */
struct blockio_issuer {
	__u64 sector;
	__u32 bytes;
	__u32 tgid;
	char comm[KS_COMM_LEN];
};

/*
 * Used only with targ_trace, beside blockio_starts and keyed the same. Not
 * BPF_F_NO_PREALLOC: before v6.1 the verifier warns (WARN_ONCE) when a
 * tracing program uses a run-time allocated hash, and refuses on PREEMPT_RT.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct blockio_req);
	__type(value, struct blockio_issuer);
} blockio_issuers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct blockio_key);
	__type(value, struct blockio_stats);
} blockio_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct blockio_bytes_key);
	__type(value, struct blockio_bytes);
} blockio_bytes SEC(".maps");

/*
 * The cgroup that owns a request's I/O: the blkcg its first bio was charged
 * to (the writer of a page under writeback, not the flusher that issues it),
 * when that is a cgroup v2 cgroup below the root (hierarchy 0 is v2's);
 * otherwise (no io controller in the subtree, a v1 blkio hierarchy, no bio,
 * no CONFIG_BLK_CGROUP) the cgroup of the task that issues the request.
 */
static __always_inline __u64 request_cgroup(struct request *rq)
{
	struct blkcg_gq *blkg = NULL;
	struct cgroup *cgroup;

	if (!targ_attribute)
		return 0;
	if (bpf_core_field_exists(((struct bio *)0)->bi_blkg))
		blkg = BPF_CORE_READ(rq, bio, bi_blkg);
	if (blkg) {
		cgroup = BPF_CORE_READ(blkg, blkcg, css.cgroup);
		if (cgroup && BPF_CORE_READ(cgroup, level) > 0 &&
		    BPF_CORE_READ(cgroup, root, hierarchy_id) == 0)
			return BPF_CORE_READ(cgroup, kn, id);
	}
	return bpf_get_current_cgroup_id();
}

static __always_inline __u32 op_class(__u32 req_op)
{
	switch (req_op) {
	case 0:
		return BLOCKIO_OP_READ;
	case 1:
		return BLOCKIO_OP_WRITE;
	case 2:
		return BLOCKIO_OP_FLUSH;
	case 3:
		return BLOCKIO_OP_DISCARD;
	default:
		return BLOCKIO_OP_OTHER;
	}
}

/*
 * The operation from a tracepoint's rwbs text (blk_fill_rwbs): an optional
 * 'F' for REQ_PREFLUSH, then the operation letter (W, R, D, "DE" for secure
 * erase, F for a flush, N for anything else), then flag letters.
 */
static __always_inline __u32 op_of_rwbs(const char *rwbs)
{
	char c = rwbs[0], next = rwbs[1];

	if (c == 'F' && (next == 'W' || next == 'R' || next == 'D' || next == 'F' || next == 'N')) {
		c = next;
		next = rwbs[2];
	}
	switch (c) {
	case 'R':
		return BLOCKIO_OP_READ;
	case 'W':
		return BLOCKIO_OP_WRITE;
	case 'F':
		return BLOCKIO_OP_FLUSH;
	case 'D':
		return next == 'E' ? BLOCKIO_OP_OTHER : BLOCKIO_OP_DISCARD;
	default:
		return BLOCKIO_OP_OTHER;
	}
}

/* True when the request is tracked (its completion will be matched). */
static __always_inline bool on_issue(struct blockio_req *req, __u32 dev, __u32 op, __u64 bytes,
				     __u64 cgroup_id)
{
	struct blockio_start start = {
		.ts_ns = bpf_ktime_get_ns(),
		.remaining = bytes,
		.cgroup_id = cgroup_id,
		.dev = dev,
		.op = op,
	};

	/* A requeued request is issued again: the later issue replaces the first. */
	if (bpf_map_update_elem(&blockio_starts, req, &start, BPF_ANY)) {
		ks_count_drop(); /* table full: this request goes uncounted */
		return false;
	}
	return true;
}

/* Only with targ_trace: the issuing task (usually the one doing the I/O), for the record. */
static __always_inline void remember_issuer(struct blockio_req *req, __u64 sector, __u32 bytes)
{
	struct blockio_issuer issuer = {
		.sector = sector,
		.bytes = bytes,
		.tgid = bpf_get_current_pid_tgid() >> 32,
	};

	bpf_get_current_comm(issuer.comm, sizeof(issuer.comm));
	if (bpf_map_update_elem(&blockio_issuers, req, &issuer, BPF_ANY))
		ks_count_drop(); /* table full: this request sends no record */
}

/* Only with targ_trace, once per completed request: its record, if slow enough. */
static __always_inline void send_record(struct blockio_req *req, struct blockio_key *key,
					__u64 latency_ns)
{
	struct blockio_issuer *issuer = bpf_map_lookup_elem(&blockio_issuers, req);
	struct blockio_trace_record *rec;

	if (!issuer)
		return; /* not remembered at issue: counted as lost there */
	if (latency_ns >= targ_trace_min_ns) {
		rec = ks_reserve(sizeof(*rec), KS_RECORD_BLOCKIO, BLOCKIO_TRACE_RECORD_VERSION);
		if (rec) {
			rec->dev = key->dev;
			rec->op = key->op;
			rec->sector = issuer->sector;
			rec->bytes = issuer->bytes;
			rec->latency_ns = latency_ns;
			rec->tgid = issuer->tgid;
			rec->pad = 0;
			__builtin_memcpy(rec->comm, issuer->comm, sizeof(rec->comm));
			ks_submit(rec);
		}
	}
	bpf_map_delete_elem(&blockio_issuers, req);
}

static __always_inline void on_complete(struct blockio_req *req, __u64 nr_bytes)
{
	static const struct blockio_bytes zero_bytes;
	static const struct blockio_stats zero_stats;
	struct blockio_start *start = bpf_map_lookup_elem(&blockio_starts, req);
	struct blockio_bytes_key bytes_key = {};
	struct blockio_bytes *bytes;
	struct blockio_stats *stats;
	struct blockio_key key = {};
	__u64 delta = 0;
	bool done;

	if (!start)
		return; /* issued before the probe started, or filtered out */
	key.dev = bytes_key.dev = start->dev;
	key.op = bytes_key.op = start->op;
	bytes_key.cgroup_id = start->cgroup_id;
	done = nr_bytes >= start->remaining;
	if (done) {
		delta = bpf_ktime_get_ns() - start->ts_ns;
		bpf_map_delete_elem(&blockio_starts, req);
	} else {
		/* Partial completion (blk_update_request): the rest follows. */
		start->remaining -= nr_bytes;
	}

	/*
	 * Per-CPU values: plain adds are safe. Completions of two requests can
	 * nest on one CPU (softirq under an interrupt), but the kernel does not
	 * run a tracing program inside itself, so only one of them updates.
	 */
	bytes = ks_lookup_or_init(&blockio_bytes, &bytes_key, &zero_bytes);
	if (bytes)
		bytes->bytes += nr_bytes;
	if (!done)
		return;

	stats = ks_lookup_or_init(&blockio_stats, &key, &zero_stats);
	if (stats) {
		stats->sum_ns += delta;
		stats->slots[ks_latency_slot(delta)]++;
	}
	if (targ_trace)
		send_record(req, &key, delta);
}

/* BTF-typed variants (tp_btf, raw_tp): the request itself is at hand. */

/*
 * The start sector as the classic tracepoints report it (blk_rq_trace_sector):
 * 0 for a passthrough request and for one without a position (a flush's is
 * (sector_t)-1), so every variant sends the same record. Reads cmd_flags
 * again rather than keeping it live through the agent's path.
 */
static __always_inline __u64 trace_sector(struct request *rq)
{
	__u32 req_op = BPF_CORE_READ(rq, cmd_flags) & KS_REQ_OP_MASK;
	__u64 sector = BPF_CORE_READ(rq, __sector);

	return req_op >= KS_REQ_OP_PASSTHROUGH || sector == (__u64)-1 ? 0 : sector;
}

static __always_inline int issue_rq(struct request *rq)
{
	struct blockio_req req = {.id = (__u64)rq};
	struct gendisk *disk;
	__u32 dev, op;

	if (ks_skip_current())
		return 0;
	disk = ks_request_disk(rq);
	if (!disk)
		return 0; /* no disk (e.g. an NVMe admin command): not disk I/O */
	dev = BPF_CORE_READ(disk, major) << KS_MINORBITS | BPF_CORE_READ(disk, first_minor);
	op = op_class(BPF_CORE_READ(rq, cmd_flags) & KS_REQ_OP_MASK);
	if (!on_issue(&req, dev, op, BPF_CORE_READ(rq, __data_len), request_cgroup(rq)))
		return 0;
	if (targ_trace)
		remember_issuer(&req, trace_sector(rq), BPF_CORE_READ(rq, __data_len));
	return 0;
}

static __always_inline int complete_rq(struct request *rq, __u32 nr_bytes)
{
	struct blockio_req req = {.id = (__u64)rq};

	on_complete(&req, nr_bytes);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int blockio_issue_tp_btf(__u64 *ctx)
{
	return issue_rq(ks_block_rq_issue_rq(ctx));
}

SEC("tp_btf/block_rq_complete")
int blockio_complete_tp_btf(__u64 *ctx)
{
	return complete_rq(ks_block_rq_complete_rq(ctx), (__u32)ctx[2]);
}

SEC("raw_tp/block_rq_issue")
int blockio_issue_raw_tp(__u64 *ctx)
{
	return issue_rq(ks_block_rq_issue_rq(ctx));
}

SEC("raw_tp/block_rq_complete")
int blockio_complete_raw_tp(__u64 *ctx)
{
	return complete_rq(ks_block_rq_complete_rq(ctx), (__u32)ctx[2]);
}

/*
 * Classic tracepoints: the records carry the disk's dev_t, the start sector
 * and the rwbs text but no request pointer, so a request is keyed by (disk,
 * sector). Two requests in flight at once on one disk at one sector (e.g.
 * concurrent flushes, which report sector 0) collide; and as a partial
 * completion advances the sector, every completion ends its request here
 * (remaining 0). The BTF variants above have neither limitation.
 */

SEC("tracepoint/block/block_rq_issue")
int blockio_issue_tracepoint(struct trace_event_raw_block_rq *ctx)
{
	struct blockio_req req = {};
	char rwbs[3];

	if (ks_skip_current())
		return 0;
	req.dev = ctx->dev;
	if (!req.dev)
		return 0;
	req.id = ctx->sector;
	rwbs[0] = ctx->rwbs[0];
	rwbs[1] = ctx->rwbs[1];
	rwbs[2] = ctx->rwbs[2];
	if (!on_issue(&req, req.dev, op_of_rwbs(rwbs), 0, 0)) /* no request pointer: no owner */
		return 0;
	if (targ_trace)
		remember_issuer(&req, ctx->sector, ctx->bytes);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int blockio_complete_tracepoint(void *ctx)
{
	struct ks_block_rq_completion e;
	struct blockio_req req = {};

	ks_read_block_rq_completion(ctx, &e);
	req.id = e.sector;
	req.dev = e.dev;
	on_complete(&req, (__u64)e.nr_sector << 9);
	return 0;
}
