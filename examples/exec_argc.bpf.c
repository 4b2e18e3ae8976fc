// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec_argc: successful execs by the new program's command name, in a
 * linear histogram of their argument count (argv[0] included). The
 * tracepoint fires once the new program is in place, so the current task's
 * comm is already the new one (for a script, the script's file name).
 * Each exec is also a record in exec_events, which `kernscope trace
 * exec_argc` prints (the YAML's trace section); nothing reads the ring
 * otherwise, so reservations then fail and the histogram still counts.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

#define MAX_BUCKET 16 /* 16 or more arguments */
#define COMM_LEN 16 /* TASK_COMM_LEN */

char LICENSE[] SEC("license") = "GPL";

struct exec_key {
	char comm[COMM_LEN];
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct exec_key);
	__type(value, __u64);
} exec_arguments SEC(".maps");

struct exec_event {
	__u32 pid;
	__u32 argc;
	char comm[COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} exec_events SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct exec_key key = {};
	int argc = BPF_CORE_READ(bprm, argc);

	bpf_get_current_comm(key.comm, sizeof(key.comm));
	ksx_linear_add(&exec_arguments, &key, MAX_BUCKET, argc > 0 ? (__u64)argc : 0);

	struct exec_event *event = bpf_ringbuf_reserve(&exec_events, sizeof(*event), 0);
	if (!event)
		return 0;
	event->pid = bpf_get_current_pid_tgid() >> 32;
	event->argc = argc;
	__builtin_memcpy(event->comm, key.comm, sizeof(event->comm));
	bpf_ringbuf_submit(event, 0);
	return 0;
}
