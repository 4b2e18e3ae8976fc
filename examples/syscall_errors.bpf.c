// SPDX-License-Identifier: GPL-2.0-only
/*
 * syscall_errors: system calls that failed, by command name, system call
 * and errno. A raw tracepoint on sys_exit: it puts every task's system
 * calls on the kernel's slow path while attached (a measurable cost on a
 * busy service), so run it to investigate rather than always on.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

#define COMM_LEN 16 /* TASK_COMM_LEN */
#define MAX_ERRNO 4095 /* include/linux/err.h: -4095..-1 are errors */

char LICENSE[] SEC("license") = "GPL";

struct syscall_error_key {
	char comm[COMM_LEN];
	__u32 syscall; /* the architecture's system call number */
	__u32 error; /* errno, positive */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240);
	__type(key, struct syscall_error_key);
	__type(value, __u64);
} syscall_errors_total SEC(".maps");

/* The system call number as the entry code saved it (a raw tracepoint reads pt_regs by probe). */
static __always_inline __u32 syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ(regs, syscallno);
#else
#error "syscall_errors: unsupported architecture"
#endif
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct syscall_error_key key = {};

	if (ret >= 0 || ret < -MAX_ERRNO)
		return 0;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.syscall = syscall_nr(regs);
	key.error = -ret;
	ksx_add(&syscall_errors_total, &key, 1);
	return 0;
}
