/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KERNSCOPE_HISTOGRAM_BPF_H
#define KERNSCOPE_HISTOGRAM_BPF_H

#include "histogram.h"

static __always_inline __u32 ks_log2(__u64 v)
{
	__u32 r = 0;

	/* Branch-free binary search; the verifier sees a bounded result. */
	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* The slot of v in a histogram of `slots` slots (KS_LOG2_SLOTS, or a probe's own count). */
static __always_inline __u32 ks_log2_slot(__u64 v, __u32 slots)
{
	__u32 slot = ks_log2(v);

	return slot < slots ? slot : slots - 1;
}

#endif /* KERNSCOPE_HISTOGRAM_BPF_H */
