/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KERNSCOPE_HISTOGRAM_BPF_H
#define KERNSCOPE_HISTOGRAM_BPF_H

#include "histogram.h"

#if KS_HISTOGRAM_SCHEMA < 0 || KS_HISTOGRAM_SCHEMA > 3
#error "KS_HISTOGRAM_SCHEMA is 0..3"
#endif

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

/* Nanoseconds in units of 2^-30 s, rounded up; past 2^34 s, the largest unit. */
static __always_inline __u64 ks_ns_to_units(__u64 ns)
{
	__u64 seconds = ns / 1000000000ULL;
	__u64 rest = ns - seconds * 1000000000ULL; /* < 2^30, so rest << 30 fits */

	if (seconds >> (64 - KS_UNIT_SHIFT))
		return ~0ULL;
	return (seconds << KS_UNIT_SHIFT) +
	       ((rest << KS_UNIT_SHIFT) + 999999999ULL) / 1000000000ULL;
}

/*
 * floor(2^63 * 2^(i/8)): the sub-octave edges of schema 3, of which schemas
 * 1 and 2 use every 4th and 2nd. A mantissa (value shifted so its leading
 * one is bit 63) above edge i lies above 2^(i/8) of its octave; the edges
 * are irrational past i = 0, so integer compares against their floors are exact.
 */
static __always_inline __u64 ks_octave_edge(__u32 i)
{
	switch (i) {
	case 1:
		return 0x8b95c1e3ea8bd6e6ULL;
	case 2:
		return 0x9837f0518db8a96fULL;
	case 3:
		return 0xa5fed6a9b15138eaULL;
	case 4:
		return 0xb504f333f9de6484ULL;
	case 5:
		return 0xc5672a115506daddULL;
	case 6:
		return 0xd744fccad69d6af4ULL;
	case 7:
		return 0xeac0c6e7dd24392eULL;
	default:
		return 0x8000000000000000ULL;
	}
}

/* The slot of a value in units (bpf/histogram.h). */
static __always_inline __u32 ks_histogram_slot(__u64 units)
{
	__u32 octave, slot;
	__u64 mantissa;

	if (!units)
		return 0;
	octave = ks_log2(units);
	mantissa = units << (63 - octave);
	/* Slot of the bucket ending at 2^octave, then one per edge of the octave the mantissa passes. */
	slot = 1 + (octave << KS_HISTOGRAM_SCHEMA);
	for (__u32 i = 0; i < (1U << KS_HISTOGRAM_SCHEMA); i++)
		slot += mantissa > ks_octave_edge(i << (3 - KS_HISTOGRAM_SCHEMA));
	return slot < KS_HISTOGRAM_SLOTS ? slot : KS_HISTOGRAM_SLOTS - 1;
}

/* The slot of a duration in nanoseconds. */
static __always_inline __u32 ks_latency_slot(__u64 ns)
{
	return ks_histogram_slot(ks_ns_to_units(ns));
}

#endif /* KERNSCOPE_HISTOGRAM_BPF_H */
