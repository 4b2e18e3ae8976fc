// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * storm: the traced workloads of the storms benchmark (bench/storms.ts).
 *
 * exec N: N times fork(), exec /bin/true in the child, wait for it; every
 * child must exit 0.
 * connect N: N loopback TCP connections in this one process: connect() to a
 * listener on 127.0.0.1 (blocking: on loopback the handshake completes
 * within the call), accept(), then close the accepted end first, so the
 * TIME_WAIT sockets sit on the listener's port and the client's ephemeral
 * ports are free again at once (no port exhaustion across trials).
 *
 * Prints one JSON line: {"ops": N, "seconds": S}. Errors go to stderr with
 * exit 1.
 *
 * usage: storm exec|connect N
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ULL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int fail(const char *what)
{
	fprintf(stderr, "storm: %s: %s\n", what, strerror(errno));
	return 1;
}

static int exec_storm(uint64_t n)
{
	char *const argv[] = {"true", NULL};
	uint64_t i;
	int status;
	pid_t pid;

	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid < 0)
			return fail("fork");
		if (pid == 0) {
			execv("/bin/true", argv);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0)
			return fail("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "storm: /bin/true ended with status %#x\n", status);
			return 1;
		}
	}
	return 0;
}

static int connect_storm(uint64_t n)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	int listener, client, server;
	uint64_t i;

	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0)
		return fail("socket");
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) ||
	    getsockname(listener, (struct sockaddr *)&addr, &len) || listen(listener, 128))
		return fail("listen on 127.0.0.1");
	for (i = 0; i < n; i++) {
		client = socket(AF_INET, SOCK_STREAM, 0);
		if (client < 0)
			return fail("socket");
		if (connect(client, (struct sockaddr *)&addr, sizeof(addr)))
			return fail("connect");
		server = accept(listener, NULL, NULL);
		if (server < 0)
			return fail("accept");
		close(server);
		close(client);
	}
	close(listener);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n, start;
	char *tail;
	int err;

	if (argc != 3 || (strcmp(argv[1], "exec") && strcmp(argv[1], "connect"))) {
		fprintf(stderr, "usage: storm exec|connect N\n");
		return 2;
	}
	n = strtoull(argv[2], &tail, 10);
	if (*argv[2] < '1' || *argv[2] > '9' || *tail) {
		fprintf(stderr, "storm: N must be a positive integer\n");
		return 2;
	}
	start = now_ns();
	err = strcmp(argv[1], "exec") ? connect_storm(n) : exec_storm(n);
	if (err)
		return err;
	printf("{\"ops\": %" PRIu64 ", \"seconds\": %.6f}\n", n,
	       (double)(now_ns() - start) / NS_PER_S);
	return 0;
}
