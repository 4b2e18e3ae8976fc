/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every kernscope probe shares: the ring buffer, the drop counter, the
 * load-time filters and the wakeup policy. Include once per probe object.
 */
#ifndef KERNSCOPE_BPF_H
#define KERNSCOPE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "record.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Load-time settings, written by user space between open and load. */
const volatile __u32 targ_tgid = 0; /* 0: every process */
const volatile __u64 targ_cgroup_id = 0; /* 0: every cgroup */
const volatile __u32 targ_cgroup_level = 0; /* depth of targ_cgroup_id */
/* "" (first byte 0): every command; else the task's comm, NUL-padded to 16 */
const volatile char targ_comm[KS_COMM_LEN] __attribute__((aligned(8))) = {};
const volatile __u64 wakeup_bytes = 1 << 16; /* wake the reader past this */
/*
 * `kernscope trace`: probes that aggregate in the kernel also send one record
 * per event (of at least targ_trace_min_ns where they measure a latency).
 * Off for the agent: with targ_trace false the verifier prunes that code.
 */
const volatile bool targ_trace = false;
const volatile __u64 targ_trace_min_ns = 0;
/* The tracer's own process: its writes of what it traced must not be traced again. */
const volatile __u32 targ_skip_tgid = 0;

/* Size is set by user space (bpf_map__set_max_entries) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Failed reservations, per CPU: lost events are counted, never silent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/*
 * Keeps a struct (a record, a map key or value) in the object's BTF even
 * though code only uses pointers to it; user space reads its layout there.
 */
#define KS_EXPORT_TYPE(name) struct name *ks_type_##name __attribute__((unused))

/* Record type numbers, likewise read from BTF by user space. */
enum ks_record_type *ks_record_types __attribute__((unused));

/* The data of a classic tracepoint record's __data_loc field: the low 16 bits are its offset. */
static __always_inline const char *ks_data_loc(const void *record, __u32 loc)
{
	return (const char *)record + (loc & 0xffff);
}

/*
 * A task's comm against targ_comm, as two 64-bit words: every way of reading
 * it NUL-pads the name to the buffer size (bpf_get_current_comm: strscpy_pad,
 * strncpy on old kernels; a string read leaves the zeroed tail as it is), so
 * equal names are equal words. Read from `task`; without it from `comm`
 * (kernel memory); without either from the current task. Only called when a
 * comm filter is set; the verifier drops the call otherwise (targ_comm is
 * read-only).
 */
static __always_inline bool ks_comm_differs(struct task_struct *task, const char *comm)
{
	union {
		char name[KS_COMM_LEN];
		__u64 words[KS_COMM_LEN / 8];
	} have = {};
	const volatile __u64 *want = (const volatile __u64 *)targ_comm;

	if (task)
		BPF_CORE_READ_STR_INTO(&have.name, task, comm);
	else if (comm)
		bpf_probe_read_kernel_str(have.name, sizeof(have.name), comm);
	else
		bpf_get_current_comm(have.name, sizeof(have.name));
	return have.words[0] != want[0] || have.words[1] != want[1];
}

/*
 * True when a task is outside the configured filters: `task`, or where the
 * caller cannot reach it (NULL) the current task, except for what the caller
 * knows of it: its process id `tgid` (0: unknown) and its name `comm` (kernel
 * memory; NULL: unknown). Each id is read only when its filter is set, inside
 * the test, so that without that filter the verifier drops the read too (the
 * settings are read-only). The cgroup filter matches the target cgroup and
 * everything below it, so a pod cgroup also selects its containers.
 */
static __always_inline bool ks_skip_task(struct task_struct *task, __u32 tgid, const char *comm)
{
	if (targ_tgid || targ_skip_tgid) {
		if (!tgid)
			tgid = task ? BPF_CORE_READ(task, tgid) : bpf_get_current_pid_tgid() >> 32;
		if (targ_tgid && tgid != targ_tgid)
			return true;
		if (targ_skip_tgid && tgid == targ_skip_tgid)
			return true;
	}
	if (targ_cgroup_id) {
		/*
		 * Read from the task, the current one too: 5.10 does not let
		 * tracing programs call bpf_get_current_ancestor_cgroup_id()
		 * and refuses the whole program (seen by the kernel matrix,
		 * test/kernels; 6.1 allows it).
		 */
		__u64 id = ks_task_ancestor_cgroup_id(
			task ? task : (struct task_struct *)bpf_get_current_task(),
			targ_cgroup_level);

		if (id != targ_cgroup_id)
			return true;
	}
	if (targ_comm[0] && ks_comm_differs(task, comm))
		return true;
	return false;
}

/*
 * A filter that selects tasks (pid, cgroup, comm) is set: an event whose task
 * is unknown cannot pass it. targ_skip_tgid selects none, it leaves one out.
 */
static __always_inline bool ks_task_filter_set(void)
{
	return targ_tgid || targ_cgroup_id || targ_comm[0];
}

/* ks_skip_task() for the current task. */
static __always_inline bool ks_skip_current(void)
{
	return ks_skip_task(NULL, 0, NULL);
}

static __always_inline void ks_count_drop(void)
{
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&drops, &zero);

	if (count)
		*count += 1; /* per-CPU slot: no atomic needed */
}

/* The map's value for `key`, created zeroed on first use; NULL (counted as lost) if the map is full. */
static __always_inline void *ks_lookup_or_init(void *map, const void *key, const void *zero)
{
	void *value = bpf_map_lookup_elem(map, key);

	if (value)
		return value;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	value = bpf_map_lookup_elem(map, key);
	if (!value)
		ks_count_drop();
	return value;
}

/*
 * Adds 1 at `key` of a per-CPU map whose value is one __u64 counter (struct
 * tcp_count, process_count, syscall_count), created at 0 on first use, so a
 * plain add is safe.
 */
static __always_inline void ks_count_in(void *map, const void *key)
{
	static const __u64 zero;
	__u64 *count = ks_lookup_or_init(map, key, &zero);

	if (count)
		*count += 1;
}

/* Reserve a record and fill its header from the current task. */
static __always_inline void *ks_reserve(__u32 size, __u16 type, __u16 version)
{
	struct ks_record_header *hdr = bpf_ringbuf_reserve(&events, size, 0);
	__u64 pid_tgid;

	if (!hdr) {
		ks_count_drop();
		return NULL;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	hdr->type = type;
	hdr->version = version;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->ts_ns = bpf_ktime_get_ns();
	hdr->pid = (__u32)pid_tgid;
	hdr->tgid = pid_tgid >> 32;
	hdr->cgroup_id = bpf_get_current_cgroup_id();
	return hdr;
}

/*
 * A wakeup per record is the producer's biggest cost. Wake the reader only
 * once wakeup_bytes are waiting; user space drains on a timer as well, which
 * bounds latency when traffic is light.
 */
static __always_inline void ks_submit(void *record)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(record, flags);
}

#endif /* KERNSCOPE_BPF_H */
