// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * histogramslots: the latency histograms' slot functions (histogram.bpf.h)
 * on values user space chooses, for their test against an exact reference.
 * Run with BPF_PROG_TEST_RUN; args[0] and args[1] are a value's high and low
 * 32 bits (test runs take at most 2^53); r0 is its slot. Built once per
 * schema, as the probes are. Not a probe: the package leaves it out.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "histogram.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline __u64 value_of(struct bpf_raw_tracepoint_args *ctx)
{
	return (ctx->args[0] << 32) | (__u32)ctx->args[1];
}

/* The slot of a value in units of 2^-30 s. */
SEC("raw_tp")
int units_slot(struct bpf_raw_tracepoint_args *ctx)
{
	return ks_histogram_slot(value_of(ctx));
}

/* The slot of a duration in nanoseconds. */
SEC("raw_tp")
int latency_slot(struct bpf_raw_tracepoint_args *ctx)
{
	return ks_latency_slot(value_of(ctx));
}
