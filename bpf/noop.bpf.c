// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * noop: programs that do nothing, for the services benchmark's floor. Any
 * program on sys_enter or sys_exit makes every task take the kernel's
 * syscall slow path (SYSCALL_WORK_SYSCALL_TRACEPOINT) and adds a program call
 * per syscall; what the per-syscall probes cost above these is theirs.
 * Not autoloaded ("?"): the benchmark picks the hooks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("?tp_btf/sys_enter")
int BPF_PROG(noop_sys_enter)
{
	return 0;
}

SEC("?tp_btf/sys_exit")
int BPF_PROG(noop_sys_exit)
{
	return 0;
}
