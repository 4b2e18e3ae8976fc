// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loadgen: a known stream of exec records for benchmarks and loss tests.
 * - loadgen: never attached; user space runs it with BPF_PROG_TEST_RUN and
 *   passes the number of records to emit as the first context argument.
 * - loadgen_sys_enter (not autoloaded: "?"): attached to the sys_enter raw
 *   tracepoint, one record per syscall of the filtered tasks (targ_tgid,
 *   targ_syscall), through the same wakeup policy as every probe.
 */
#include "kernscope.bpf.h"
#include "exec.h"

KS_EXPORT_TYPE(exec_record);

/* Distinct comm values the stream cycles through (at most 16). */
const volatile __u32 loadgen_comms = 16;
/* Only this syscall number (sys_enter's id) emits; -1: every syscall. */
const volatile __s64 targ_syscall = -1;

static long emit_one(__u64 index, void *unused)
{
	struct exec_record *rec;

	rec = ks_reserve(sizeof(*rec), KS_RECORD_EXEC, EXEC_RECORD_VERSION);
	if (!rec)
		return 0;
	rec->ppid = 1;
	rec->uid = 0;
	__builtin_memcpy(rec->comm, "loadgen-\0\0\0\0\0\0\0\0", sizeof(rec->comm));
	rec->comm[8] = 'a' + index % loadgen_comms;
	__builtin_memcpy(rec->filename, "/loadgen\0", 9);
	ks_submit(rec);
	return 0;
}

SEC("raw_tp")
int loadgen(struct bpf_raw_tracepoint_args *ctx)
{
	bpf_loop(ctx->args[0], emit_one, NULL, 0);
	return 0;
}

SEC("?tp_btf/sys_enter")
int BPF_PROG(loadgen_sys_enter, struct pt_regs *regs, long id)
{
	if (ks_skip_current() || (targ_syscall >= 0 && id != targ_syscall))
		return 0;
	emit_one(id, NULL);
	return 0;
}
