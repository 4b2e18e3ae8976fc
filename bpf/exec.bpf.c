// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* exec: one record per successful execve, from sched_process_exec. */
#include "kernscope.bpf.h"
#include "exec.h"

KS_EXPORT_TYPE(exec_record);

static __always_inline int emit_exec(struct task_struct *task, const char *filename)
{
	struct exec_record *rec;

	if (ks_skip_current())
		return 0;
	rec = ks_reserve(sizeof(*rec), KS_RECORD_EXEC, EXEC_RECORD_VERSION);
	if (!rec)
		return 0;
	rec->ppid = BPF_CORE_READ(task, real_parent, tgid);
	rec->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	bpf_probe_read_kernel_str(rec->filename, sizeof(rec->filename), filename);
	ks_submit(rec);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_tp_btf, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return emit_exec(task, BPF_CORE_READ(bprm, filename));
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw_tp, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return emit_exec(task, BPF_CORE_READ(bprm, filename));
}

SEC("tracepoint/sched/sched_process_exec")
int exec_tracepoint(struct trace_event_raw_sched_process_exec *ctx)
{
	/* __data_loc: the low 16 bits are the filename's offset in the record */
	const char *filename = (const char *)ctx + (ctx->__data_loc_filename & 0xffff);

	return emit_exec((struct task_struct *)bpf_get_current_task(), filename);
}
