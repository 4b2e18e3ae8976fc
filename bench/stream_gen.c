// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * stream_gen: the producer of the streaming benchmark (bench/stream.ts).
 *
 * Runs the loadgen program of an object that the consumer under test has
 * loaded (found by program id, so the consumer owns the ring) through
 * BPF_PROG_TEST_RUN: each run emits the number of exec records it is asked
 * for (bpf_loop in bpf/loadgen.bpf.c), each record stamped with
 * bpf_ktime_get_ns() and submitted through the probes' wakeup policy.
 *
 * Pacing: in 1 ms slices, the records due so far (rate x elapsed) are emitted
 * at once, at most MAX_ROUND per run, then the thread sleeps (absolute
 * clock_nanosleep) until the next slice. A thread that cannot keep up stops
 * a slice after the end, short of its count (the achieved rate tells). RATE
 * "max" does not pace: runs of MAX_ROUND back to back. THREADS producers
 * split the rate, each pacing its own share, for rates one thread cannot
 * reach.
 *
 * Prints one JSON line: {"produced": N, "seconds": S, "runs": R,
 * "cpu_seconds": C} (C: user + system time of all threads, the BPF program
 * included). Errors go to stderr with exit 1.
 *
 * usage: stream_gen PROG_ID RATE_PER_S|max SECONDS THREADS
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define NS_PER_S 1000000000ULL
#define SLICE_NS 1000000ULL
/* 1024 records are 192 KiB in the ring: a catch-up burst never fills it in one run. */
#define MAX_ROUND 1024
#define MAX_THREADS 64

struct producer {
	pthread_t thread;
	uint64_t rate; /* this thread's share; 0: unpaced */
	uint64_t produced;
	uint64_t runs;
	int error; /* errno of a failed run, 0 if none */
};

static int prog_fd;
static uint64_t start_ns, end_ns;
/* Set by a thread whose run failed, so the others stop too. */
static atomic_bool failed;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = {.tv_sec = ns / NS_PER_S, .tv_nsec = ns % NS_PER_S};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Emits `count` records in one program run; false (error recorded) if it failed. */
static bool emit(struct producer *p, uint64_t count)
{
	__u64 args[1] = {count};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(prog_fd, &opts) != 0 || opts.retval != 0) {
		p->error = errno ? errno : EINVAL;
		atomic_store(&failed, true);
		return false;
	}
	p->produced += count;
	p->runs++;
	return true;
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	uint64_t now, elapsed, due;

	if (p->rate == 0) {
		while (!atomic_load(&failed) && now_ns() < end_ns)
			if (!emit(p, MAX_ROUND))
				break;
		return NULL;
	}
	while (!atomic_load(&failed)) {
		now = now_ns();
		if (now > end_ns)
			now = end_ns;
		/* Records due by now: rate * elapsed, without overflowing. */
		elapsed = now - start_ns;
		due = p->rate * (elapsed / NS_PER_S) + p->rate * (elapsed % NS_PER_S) / NS_PER_S;
		while (p->produced < due && now_ns() <= end_ns + SLICE_NS) {
			uint64_t count = due - p->produced;

			if (!emit(p, count < MAX_ROUND ? count : MAX_ROUND))
				return NULL;
		}
		if (now == end_ns)
			break;
		sleep_until(start_ns + (elapsed / SLICE_NS + 1) * SLICE_NS);
	}
	return NULL;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end;
}

int main(int argc, char **argv)
{
	struct producer producers[MAX_THREADS] = {};
	uint64_t id, rate = 0, threads, produced = 0, runs = 0;
	struct rusage usage;
	double seconds;
	char *tail;
	int i, err;

	if (argc != 5 || !parse_u64(argv[1], &id) ||
	    (strcmp(argv[2], "max") && (!parse_u64(argv[2], &rate) || !rate)) ||
	    !parse_u64(argv[4], &threads) || !threads || threads > MAX_THREADS) {
		fprintf(stderr, "usage: stream_gen PROG_ID RATE_PER_S|max SECONDS THREADS(1..%d)\n",
			MAX_THREADS);
		return 2;
	}
	seconds = strtod(argv[3], &tail);
	if (*argv[3] == '\0' || *tail != '\0' || !(seconds > 0)) {
		fprintf(stderr, "stream_gen: SECONDS must be a positive number\n");
		return 2;
	}
	prog_fd = bpf_prog_get_fd_by_id(id);
	if (prog_fd < 0) {
		fprintf(stderr, "stream_gen: no program with id %" PRIu64 ": %s\n", id,
			strerror(errno));
		return 1;
	}

	start_ns = now_ns();
	end_ns = start_ns + (uint64_t)(seconds * NS_PER_S);
	for (i = 0; i < (int)threads; i++) {
		/* The remainder goes to the first threads: the shares sum to the rate. */
		producers[i].rate = rate / threads + ((uint64_t)i < rate % threads);
		err = pthread_create(&producers[i].thread, NULL, produce, &producers[i]);
		if (err) {
			fprintf(stderr, "stream_gen: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (i = 0; i < (int)threads; i++) {
		pthread_join(producers[i].thread, NULL);
		if (producers[i].error) {
			fprintf(stderr, "stream_gen: running loadgen failed: %s\n",
				strerror(producers[i].error));
			return 1;
		}
		produced += producers[i].produced;
		runs += producers[i].runs;
	}
	seconds = (double)(now_ns() - start_ns) / NS_PER_S;
	getrusage(RUSAGE_SELF, &usage);
	printf("{\"produced\": %" PRIu64 ", \"seconds\": %.6f, \"runs\": %" PRIu64
	       ", \"cpu_seconds\": %.6f}\n",
	       produced, seconds, runs,
	       usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
		       (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6);
	return 0;
}
