// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loadgen: a known stream of exec records for benchmarks and loss tests.
 * - loadgen: never attached; user space runs it with BPF_PROG_TEST_RUN and
 *   passes the number of records to emit as the first context argument.
 * - loadgen_sys_enter (not autoloaded: "?"): attached to the sys_enter raw
 *   tracepoint, loadgen_batch records per syscall of the filtered tasks
 *   (targ_tgid, targ_syscall), through the same wakeup policy as every probe.
 * A record's comm is "loadgen-" and its index modulo loadgen_comms in base
 * 26, least significant letter first (loadgen-a .. loadgen-z, loadgen-ab, ...):
 * the index counts from 0 in each test run and across the calls of
 * loadgen_sys_enter with loadgen_batch > 1; with one record per call it is
 * the syscall number.
 */
#include "kernscope.bpf.h"
#include "exec.h"

KS_EXPORT_TYPE(exec_record);

/* Distinct comm values the stream cycles through (7 letters hold them all). */
const volatile __u32 loadgen_comms = 16;
/* Only this syscall number (sys_enter's id) emits; -1: every syscall. */
const volatile __s64 targ_syscall = -1;
/* Records per syscall in loadgen_sys_enter: a paced syscall loop then drives any record rate. */
const volatile __u32 loadgen_batch = 1;
/*
 * Where loadgen_sys_enter's next batch starts in the comm cycle, so the
 * cycle runs on across syscalls. Not atomic: with loadgen_batch > 1 the
 * benchmarks filter to one single-threaded process.
 */
__u64 loadgen_next = 0;

static long emit_one(__u64 index, __u64 *first)
{
	struct exec_record *rec;
	__u32 n = ((first ? *first : 0) + index) % loadgen_comms;

	rec = ks_reserve(sizeof(*rec), KS_RECORD_EXEC, EXEC_RECORD_VERSION);
	if (!rec)
		return 0;
	rec->ppid = 1;
	rec->uid = 0;
	__builtin_memcpy(rec->comm, "loadgen-\0\0\0\0\0\0\0\0", sizeof(rec->comm));
	rec->comm[8] = 'a' + n % 26;
	n /= 26;
	for (int i = 9; i < KS_COMM_LEN - 1 && n; i++, n /= 26)
		rec->comm[i] = 'a' + n % 26;
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
	__u64 first;

	if (ks_skip_current() || (targ_syscall >= 0 && id != targ_syscall))
		return 0;
	/* One record: the direct call the overhead benchmark has always measured. */
	if (loadgen_batch <= 1) {
		emit_one(id, NULL);
		return 0;
	}
	first = loadgen_next;
	loadgen_next = first + loadgen_batch;
	bpf_loop(loadgen_batch, emit_one, &first, 0);
	return 0;
}
