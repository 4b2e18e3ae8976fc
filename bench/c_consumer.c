// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * c_consumer: the pure C libbpf baseline of the drain and stream benchmarks.
 *
 * Pre-filled ring (bench/drain.ts): loads loadgen.bpf.o, fills the ring
 * buffer with a known number of exec records per round via
 * BPF_PROG_TEST_RUN, then times only the drain: ring_buffer__consume() plus
 * the same per-comm aggregation kernscope does.
 *
 * Steady stream (--stream, bench/stream.ts): loads it with the agent's
 * ring size and wakeup threshold, prints "ready PROG_ID" and drains, with the
 * same aggregation, whenever the ring's epoll fd is readable and on a timer,
 * as kernscope's RingDrain does, until SIGTERM (stream_gen produces, in
 * another process). It samples the latency of every SAMPLE_EVERY-th record.
 *
 * Prints one JSON line on stdout; errors go to stderr with a non-zero exit.
 *
 * usage: c_consumer OBJ_PATH RECORDS_PER_ROUND ROUNDS RING_BYTES
 *        c_consumer --stream OBJ_PATH RING_BYTES WAKEUP_BYTES INTERVAL_MS
 */
#include <linux/types.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "exec.h"

/* A ring-buffer sample is the record plus an 8-byte header, 8-aligned. */
#define RING_HDR_BYTES 8
#define RING_SLOT_BYTES ((sizeof(struct exec_record) + RING_HDR_BYTES + 7) & ~7UL)

/* bpf_loop() refuses more iterations than this (BPF_MAX_LOOPS). */
#define MAX_RECORDS_PER_ROUND (1UL << 23)

/* Power of two, so a mask picks the slot; far more than 16 comms. */
#define COMM_SLOTS 1024

/* Stream mode: latency of every 16th record, in 1 us buckets up to ~4.2 s. */
#define SAMPLE_EVERY 16
#define LATENCY_BUCKETS (1U << 22)

struct comm_slot {
	char comm[KS_COMM_LEN];
	__u64 count;
	bool used;
};

struct agg {
	struct comm_slot slots[COMM_SLOTS];
	__u64 distinct;
	__u64 records;
	__u64 bytes;
	/* Why the callback stopped the drain, for the error message. */
	const char *error;
	__u16 bad_type;
	/* Stream mode: when the current drain started (CLOCK_MONOTONIC, as hdr.ts_ns). */
	__u64 drain_start_ns;
	__u64 seen;
	__u32 *latency_us;
};

/* Stream mode: what the drain loop did. */
struct stream_stats {
	__u64 batches; /* ring_buffer__consume() calls that found records */
	__u64 wakeups; /* epoll reported the ring readable */
	__u64 drain_ns; /* time inside ring_buffer__consume() */
};

static volatile sig_atomic_t stop_requested;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	/* libbpf's info/debug chatter would bury the one JSON line. */
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static bool parse_u64(const char *s, __u64 *out)
{
	unsigned long long v;
	char *end;

	/* strtoull() would silently accept "-1" as a huge number. */
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Mixes both halves of the key so comms differing in any byte spread out. */
static inline __u32 comm_hash(const char *comm)
{
	__u64 lo, hi, h;

	memcpy(&lo, comm, 8);
	memcpy(&hi, comm + 8, 8);
	h = lo * 0x9e3779b97f4a7c15ULL ^ hi;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (__u32)h;
}

/* Exact 16-byte key, as kernscope keys it: bytes after the NUL count too. */
static inline struct comm_slot *comm_lookup(struct agg *agg, const char *comm)
{
	__u32 i = comm_hash(comm) & (COMM_SLOTS - 1);
	__u32 probes;

	for (probes = 0; probes < COMM_SLOTS; probes++) {
		struct comm_slot *slot = &agg->slots[i];

		if (!slot->used) {
			memcpy(slot->comm, comm, KS_COMM_LEN);
			slot->used = true;
			agg->distinct++;
			return slot;
		}
		if (!memcmp(slot->comm, comm, KS_COMM_LEN))
			return slot;
		i = (i + 1) & (COMM_SLOTS - 1);
	}
	return NULL;
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct exec_record *rec = data;
	struct agg *agg = ctx;
	struct comm_slot *slot;

	if (size < sizeof(*rec)) {
		agg->error = "record shorter than struct exec_record";
		return -EINVAL;
	}
	if (rec->hdr.type != KS_RECORD_EXEC) {
		agg->error = "unexpected record type";
		agg->bad_type = rec->hdr.type;
		return -EINVAL;
	}
	slot = comm_lookup(agg, rec->comm);
	if (!slot) {
		agg->error = "comm table full";
		return -ENOSPC;
	}
	slot->count++;
	agg->records++;
	agg->bytes += size;
	return 0;
}

/* on_record, then the latency from the kernel's timestamp to this drain. */
static int on_stream_record(void *ctx, void *data, size_t size)
{
	const struct exec_record *rec = data;
	struct agg *agg = ctx;
	__u64 us;
	int err = on_record(ctx, data, size);

	if (err || (agg->seen++ & (SAMPLE_EVERY - 1)))
		return err;
	/* The clock is read once per drain: a record may be newer than it. */
	us = agg->drain_start_ns > rec->hdr.ts_ns ? (agg->drain_start_ns - rec->hdr.ts_ns) / 1000
						  : 0;
	agg->latency_us[us < LATENCY_BUCKETS - 1 ? us : LATENCY_BUCKETS - 1]++;
	return 0;
}

/*
 * Sets the wakeup threshold: all ones for the pre-filled ring, which drains
 * without waiting (a wakeup per batch would add producer cost the Node side
 * does not see); the agent's for a stream. The offset comes from the
 * object's BTF, so layout changes are harmless.
 */
static int set_wakeup_bytes(struct bpf_object *obj, __u64 value)
{
	const struct btf_var_secinfo *vs;
	struct bpf_map *map, *rodata = NULL;
	const struct btf_type *sec;
	const struct btf *btf;
	const void *init;
	size_t size, suffix = strlen(".rodata");
	void *copy;
	int id, i, err;

	bpf_object__for_each_map(map, obj)
	{
		const char *name = bpf_map__name(map);
		size_t len = strlen(name);

		if (len >= suffix && !strcmp(name + len - suffix, ".rodata")) {
			rodata = map;
			break;
		}
	}
	if (!rodata) {
		fprintf(stderr, "c_consumer: no .rodata map in object\n");
		return -ENOENT;
	}
	init = bpf_map__initial_value(rodata, &size);
	btf = bpf_object__btf(obj);
	if (!init || !btf) {
		fprintf(stderr, "c_consumer: .rodata has no initial value or object has no BTF\n");
		return -ENOENT;
	}
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0) {
		fprintf(stderr, "c_consumer: no DATASEC .rodata in BTF\n");
		return id;
	}
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), "wakeup_bytes"))
			continue;
		if (vs->size != sizeof(value) || vs->offset + vs->size > size) {
			fprintf(stderr,
				"c_consumer: wakeup_bytes has unexpected size %u at offset %u\n",
				vs->size, vs->offset);
			return -EINVAL;
		}
		/* Patch a copy: older libbpf hands out the initial value as const. */
		copy = malloc(size);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, init, size);
		memcpy((char *)copy + vs->offset, &value, sizeof(value));
		err = bpf_map__set_initial_value(rodata, copy, size);
		free(copy);
		if (err)
			fprintf(stderr, "c_consumer: setting .rodata failed: %s\n", strerror(-err));
		return err;
	}
	fprintf(stderr, "c_consumer: wakeup_bytes not found in .rodata BTF\n");
	return -ENOENT;
}

static int read_drops(struct bpf_map *drops, __u64 *total)
{
	int ncpus = libbpf_num_possible_cpus();
	__u32 key = 0;
	__u64 *values;
	int err, i;

	if (ncpus < 0) {
		fprintf(stderr, "c_consumer: cannot count possible CPUs: %s\n", strerror(-ncpus));
		return ncpus;
	}
	values = calloc(ncpus, sizeof(*values));
	if (!values)
		return -ENOMEM;
	err = bpf_map__lookup_elem(drops, &key, sizeof(key), values, ncpus * sizeof(*values), 0);
	if (err) {
		fprintf(stderr, "c_consumer: reading drops failed: %s\n", strerror(-err));
	} else {
		*total = 0;
		for (i = 0; i < ncpus; i++)
			*total += values[i];
	}
	free(values);
	return err;
}

static bool valid_ring_bytes(__u64 ring_bytes)
{
	long page = sysconf(_SC_PAGESIZE);

	if (ring_bytes > UINT32_MAX || ring_bytes < (__u64)page ||
	    (ring_bytes & (ring_bytes - 1))) {
		fprintf(stderr, "c_consumer: RING_BYTES must be a power of two, %ld..%u\n", page,
			1U << 31);
		return false;
	}
	return true;
}

/* Opens and loads the object with this ring size and wakeup threshold; NULL on error. */
static struct bpf_object *load_loadgen(const char *path, __u64 ring_bytes, __u64 wakeup_bytes)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_map *events;
	int ret;

	if (!obj) {
		fprintf(stderr, "c_consumer: opening %s failed: %s\n", path, strerror(errno));
		return NULL;
	}
	events = bpf_object__find_map_by_name(obj, "events");
	if (!events || !bpf_object__find_map_by_name(obj, "drops") ||
	    !bpf_object__find_program_by_name(obj, "loadgen")) {
		fprintf(stderr, "c_consumer: %s lacks map events, map drops or program loadgen\n",
			path);
		goto fail;
	}
	ret = bpf_map__set_max_entries(events, ring_bytes);
	if (ret) {
		fprintf(stderr, "c_consumer: setting ring size failed: %s\n", strerror(-ret));
		goto fail;
	}
	if (set_wakeup_bytes(obj, wakeup_bytes))
		goto fail;
	ret = bpf_object__load(obj);
	if (ret) {
		fprintf(stderr, "c_consumer: loading %s failed: %s (root?)\n", path,
			strerror(-ret));
		goto fail;
	}
	return obj;
fail:
	bpf_object__close(obj);
	return NULL;
}

/* Says why ring_buffer__consume() returned `ret` < 0. */
static void report_consume_error(const struct agg *agg, int ret)
{
	if (agg->error && agg->bad_type)
		fprintf(stderr, "c_consumer: %s %u\n", agg->error, agg->bad_type);
	else if (agg->error)
		fprintf(stderr, "c_consumer: %s\n", agg->error);
	else
		fprintf(stderr, "c_consumer: ring_buffer__consume failed: %s\n", strerror(-ret));
}

/* Whether the per-comm counts add up to the records consumed. */
static bool comm_counts_add_up(const struct agg *agg)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < COMM_SLOTS; i++)
		sum += agg->slots[i].count;
	if (sum != agg->records) {
		fprintf(stderr, "c_consumer: per-comm counts sum to %llu, expected %llu\n",
			(unsigned long long)sum, (unsigned long long)agg->records);
		return false;
	}
	return true;
}

static int prefilled(int argc, char **argv)
{
	__u64 per_round, rounds, ring_bytes, round, lost = 0;
	__u64 consume_ns = 0, calls = 0, t0;
	struct ring_buffer *rb = NULL;
	struct bpf_object *obj = NULL;
	struct agg *agg = NULL;
	int err = 1, ret, prog_fd;

	if (argc != 5 || !parse_u64(argv[2], &per_round) || !parse_u64(argv[3], &rounds) ||
	    !parse_u64(argv[4], &ring_bytes)) {
		fprintf(stderr, "usage: %s OBJ_PATH RECORDS_PER_ROUND ROUNDS RING_BYTES\n",
			argv[0]);
		return 2;
	}
	if (!per_round || per_round > MAX_RECORDS_PER_ROUND || !rounds) {
		fprintf(stderr,
			"c_consumer: RECORDS_PER_ROUND must be 1..%lu and ROUNDS at least 1\n",
			MAX_RECORDS_PER_ROUND);
		return 2;
	}
	if (!valid_ring_bytes(ring_bytes))
		return 2;
	/* A round must fit whole, or the baseline would measure a loss test. */
	if (per_round * RING_SLOT_BYTES > ring_bytes) {
		fprintf(stderr,
			"c_consumer: %llu records need %llu ring bytes, RING_BYTES is %llu\n",
			(unsigned long long)per_round,
			(unsigned long long)(per_round * RING_SLOT_BYTES),
			(unsigned long long)ring_bytes);
		return 2;
	}

	agg = calloc(1, sizeof(*agg));
	if (!agg) {
		fprintf(stderr, "c_consumer: out of memory\n");
		return 1;
	}
	/* Never woken: the loop below drains. */
	obj = load_loadgen(argv[1], ring_bytes, UINT64_MAX);
	if (!obj)
		goto out;
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "loadgen"));

	rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "events")), on_record,
			      agg, NULL);
	if (!rb) {
		fprintf(stderr, "c_consumer: ring_buffer__new failed: %s\n", strerror(errno));
		goto out;
	}

	for (round = 0; round < rounds; round++) {
		__u64 args[1] = {per_round};
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));

		ret = bpf_prog_test_run_opts(prog_fd, &opts);
		if (ret || opts.retval) {
			fprintf(stderr, "c_consumer: running loadgen failed: %s (retval %u)\n",
				strerror(ret ? -ret : EINVAL), opts.retval);
			goto out;
		}

		t0 = now_ns();
		do {
			ret = ring_buffer__consume(rb);
			calls++;
		} while (ret > 0);
		consume_ns += now_ns() - t0;

		if (ret < 0) {
			report_consume_error(agg, ret);
			goto out;
		}
	}

	if (read_drops(bpf_object__find_map_by_name(obj, "drops"), &lost) ||
	    !comm_counts_add_up(agg))
		goto out;
	if (agg->records + lost != per_round * rounds) {
		fprintf(stderr, "c_consumer: consumed %llu + lost %llu != produced %llu\n",
			(unsigned long long)agg->records, (unsigned long long)lost,
			(unsigned long long)(per_round * rounds));
		goto out;
	}

	printf("{\"consumer\":\"c-libbpf\",\"records\":%llu,\"ns_per_record\":%.3f,"
	       "\"lost\":%llu,\"rounds\":%llu,\"distinct_comms\":%llu,\"calls\":%llu}\n",
	       (unsigned long long)agg->records,
	       agg->records ? (double)consume_ns / agg->records : 0.0, (unsigned long long)lost,
	       (unsigned long long)rounds, (unsigned long long)agg->distinct,
	       (unsigned long long)calls);
	err = 0;
out:
	ring_buffer__free(rb);
	bpf_object__close(obj);
	free(agg);
	return err;
}

static void on_sigterm(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* One drain: everything the ring holds, timed, with the clock the latency samples use. */
static int stream_drain(struct ring_buffer *rb, struct agg *agg, struct stream_stats *stats)
{
	__u64 t0 = now_ns();
	int ret;

	agg->drain_start_ns = t0;
	ret = ring_buffer__consume(rb);
	stats->drain_ns += now_ns() - t0;
	if (ret > 0)
		stats->batches++;
	if (ret < 0)
		report_consume_error(agg, ret);
	return ret < 0 ? ret : 0;
}

static __u64 cpu_ns(void)
{
	struct rusage usage;

	getrusage(RUSAGE_SELF, &usage);
	return (__u64)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000ULL +
	       (__u64)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000ULL;
}

/*
 * Readiness and timer as kernscope's RingDrain.start(): libbpf's epoll
 * fd holds the ring fd level-triggered, as libuv's does; a drain whenever
 * it is readable and every INTERVAL_MS. ring_buffer__poll() is these two
 * steps in one call; split, the clock is read once per drain, as kernscope
 * reads it once per batch. SIGTERM is unblocked only inside epoll_pwait(),
 * so it cannot slip in between the check and the wait.
 */
static int stream(int argc, char **argv)
{
	__u64 ring_bytes, wakeup_bytes, interval_ms, interval_ns, next_tick, now, lost = 0;
	__u64 cpu_start, wall_start, cpu_used, wall_used, us;
	struct stream_stats stats = {};
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	struct sigaction action = {.sa_handler = on_sigterm};
	struct ring_buffer *rb = NULL;
	struct bpf_object *obj = NULL;
	struct epoll_event event;
	sigset_t term, unblocked;
	struct agg *agg = NULL;
	int err = 1, ret, epoll_fd, timeout_ms;
	const char *sep = "";

	if (argc != 5 || !parse_u64(argv[2], &ring_bytes) || !parse_u64(argv[3], &wakeup_bytes) ||
	    !parse_u64(argv[4], &interval_ms) || !interval_ms) {
		fprintf(stderr, "usage: c_consumer --stream OBJ_PATH RING_BYTES WAKEUP_BYTES "
				"INTERVAL_MS\n");
		return 2;
	}
	if (!valid_ring_bytes(ring_bytes))
		return 2;
	interval_ns = interval_ms * 1000000ULL;

	agg = calloc(1, sizeof(*agg));
	if (agg)
		agg->latency_us = calloc(LATENCY_BUCKETS, sizeof(*agg->latency_us));
	if (!agg || !agg->latency_us) {
		fprintf(stderr, "c_consumer: out of memory\n");
		goto out;
	}
	obj = load_loadgen(argv[1], ring_bytes, wakeup_bytes);
	if (!obj)
		goto out;
	rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "events")),
			      on_stream_record, agg, NULL);
	if (!rb) {
		fprintf(stderr, "c_consumer: ring_buffer__new failed: %s\n", strerror(errno));
		goto out;
	}
	ret = bpf_obj_get_info_by_fd(
		bpf_program__fd(bpf_object__find_program_by_name(obj, "loadgen")), &info,
		&info_len);
	if (ret) {
		fprintf(stderr, "c_consumer: reading the program id failed: %s\n", strerror(-ret));
		goto out;
	}
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &unblocked);
	sigdelset(&unblocked, SIGTERM);
	sigaction(SIGTERM, &action, NULL);
	epoll_fd = ring_buffer__epoll_fd(rb);

	cpu_start = cpu_ns();
	wall_start = now_ns();
	printf("ready %u\n", info.id);
	fflush(stdout);
	next_tick = wall_start + interval_ns;
	while (!stop_requested) {
		now = now_ns();
		timeout_ms = now >= next_tick ? 0 : (int)((next_tick - now + 999999) / 1000000);
		ret = epoll_pwait(epoll_fd, &event, 1, timeout_ms, &unblocked);
		if (ret < 0 && errno != EINTR) {
			fprintf(stderr, "c_consumer: epoll_pwait failed: %s\n", strerror(errno));
			goto out;
		}
		if (ret > 0)
			stats.wakeups++;
		now = now_ns();
		if ((ret > 0 || now >= next_tick) && stream_drain(rb, agg, &stats))
			goto out;
		if (now >= next_tick)
			next_tick = now + interval_ns;
	}
	/* The producer has finished: what it wrote is in the ring or counted lost. */
	if (stream_drain(rb, agg, &stats))
		goto out;
	cpu_used = cpu_ns() - cpu_start;
	wall_used = now_ns() - wall_start;

	if (read_drops(bpf_object__find_map_by_name(obj, "drops"), &lost) ||
	    !comm_counts_add_up(agg))
		goto out;
	printf("{\"records\":%llu,\"lost\":%llu,\"batches\":%llu,\"wakeups\":%llu,"
	       "\"drain_ns\":%llu,\"cpu_ns\":%llu,\"wall_ns\":%llu,\"distinct_comms\":%llu,"
	       "\"latency_us\":[",
	       (unsigned long long)agg->records, (unsigned long long)lost,
	       (unsigned long long)stats.batches, (unsigned long long)stats.wakeups,
	       (unsigned long long)stats.drain_ns, (unsigned long long)cpu_used,
	       (unsigned long long)wall_used, (unsigned long long)agg->distinct);
	/* Sparse: [bucket, count] pairs of the non-empty buckets. */
	for (us = 0; us < LATENCY_BUCKETS; us++) {
		if (!agg->latency_us[us])
			continue;
		printf("%s[%llu,%u]", sep, (unsigned long long)us, agg->latency_us[us]);
		sep = ",";
	}
	printf("],\"problems\":[]}\n");
	err = 0;
out:
	ring_buffer__free(rb);
	bpf_object__close(obj);
	if (agg)
		free(agg->latency_us);
	free(agg);
	return err;
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_print);
	if (argc > 1 && !strcmp(argv[1], "--stream"))
		return stream(argc - 1, argv + 1);
	return prefilled(argc, argv);
}
