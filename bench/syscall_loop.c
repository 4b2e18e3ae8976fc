// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syscall_loop: the traced workload of the overhead, scrape, memory and soak
 * benchmarks. Calls getppid() at a paced rate for a while and reports how
 * many calls it made.
 *
 * Protocol, so the tracer can be set up for this very process first: prints
 * "ready PID SYSCALL_NR" (SYSCALL_NR: getppid's number on this architecture),
 * waits for a line on stdin, runs, then prints one JSON line
 * {"calls": N, "seconds": S, "syscall": NR}. End of input before the line
 * means the tracer gave up: exit 1 without running.
 *
 * Pacing: in 1 ms slices, the calls due so far are made at once, then the
 * loop sleeps (clock_nanosleep, absolute) until the next slice, so a low rate
 * leaves the CPU to the consumer. RATE "max" (or 0) does not pace: getppid()
 * back to back, the clock read every 1024 calls.
 *
 * usage: syscall_loop RATE_PER_S|max SECONDS
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ULL
#define SLICE_NS 1000000ULL

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

static int usage(void)
{
	fprintf(stderr, "usage: syscall_loop RATE_PER_S|max SECONDS\n");
	return 2;
}

/* Blocks until a whole line arrives on stdin; false at end of input. */
static int wait_for_go(void)
{
	char c;

	for (;;) {
		ssize_t n = read(STDIN_FILENO, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (c == '\n')
			return 1;
	}
}

int main(int argc, char **argv)
{
	uint64_t rate, calls = 0, start, end, now;
	double seconds;
	char *tail;

	if (argc != 3)
		return usage();
	if (strcmp(argv[1], "max") == 0) {
		rate = 0;
	} else {
		rate = strtoull(argv[1], &tail, 10);
		if (*argv[1] == '\0' || *tail != '\0')
			return usage();
	}
	seconds = strtod(argv[2], &tail);
	if (*argv[2] == '\0' || *tail != '\0' || !(seconds > 0))
		return usage();

	printf("ready %d %d\n", (int)getpid(), (int)SYS_getppid);
	fflush(stdout);
	if (!wait_for_go())
		return 1;

	start = now_ns();
	end = start + (uint64_t)(seconds * NS_PER_S);
	if (rate == 0) {
		do {
			for (int i = 0; i < 1024; i++)
				getppid();
			calls += 1024;
		} while (now_ns() < end);
	} else {
		for (;;) {
			now = now_ns();
			if (now > end)
				now = end;
			/* Calls due by now: rate * elapsed, without overflowing. */
			uint64_t elapsed = now - start;
			uint64_t due = rate * (elapsed / NS_PER_S) +
				       rate * (elapsed % NS_PER_S) / NS_PER_S;

			for (; calls < due; calls++)
				getppid();
			if (now == end)
				break;
			sleep_until(start + (elapsed / SLICE_NS + 1) * SLICE_NS);
		}
	}
	now = now_ns();
	printf("{\"calls\": %" PRIu64 ", \"seconds\": %.6f, \"syscall\": %d}\n", calls,
	       (double)(now - start) / NS_PER_S, (int)SYS_getppid);
	return 0;
}
