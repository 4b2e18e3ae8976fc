/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Map helpers for user probes in ebpf_exporter's format: counters are u64
 * values under a key of labels; a histogram is a map whose key ends in a
 * `bucket` field. Bucket b counts the values v with le(b-1) < v <= le(b)
 * (upper-inclusive, as Prometheus reads `le`); bucket_max also takes every
 * larger value; key bucket_max + 1 holds the sum of the values, in the same
 * unit as the buckets.
 *
 *   exp2:   le(b) = 2^b * bucket_multiplier      (b = ceil(log2(v)), 0 for v <= 1)
 *   linear: le(b) = b * bucket_multiplier        (b = v, the unit being the multiplier)
 */
#ifndef KSX_MAPS_BPF_H
#define KSX_MAPS_BPF_H

#include <bpf/bpf_helpers.h>

/* floor(log2(v)) for v > 0, 0 for v == 0: a binary search of five fixed steps. */
static __always_inline __u32 ksx_log2_floor(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r = 32;
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
	return r + (__u32)(v >> 1);
}

/* The exp2 bucket of v: the least b with v <= 2^b, at most max. */
static __always_inline __u32 ksx_exp2_bucket(__u64 v, __u32 max)
{
	__u32 b = v <= 1 ? 0 : ksx_log2_floor(v - 1) + 1;

	return b < max ? b : max;
}

/* The linear bucket of v (already in the histogram's unit), at most max. */
static __always_inline __u32 ksx_linear_bucket(__u64 v, __u32 max)
{
	return v < max ? (__u32)v : max;
}

/*
 * Adds delta to the u64 value under key, creating it at 0 first. Atomic, so
 * it serves shared and per-CPU maps alike. A full map drops the update: the
 * exporter's view stops growing rather than the program failing.
 */
static __always_inline void ksx_add(void *map, const void *key, __u64 delta)
{
	__u64 zero = 0, *value;

	value = bpf_map_lookup_elem(map, key);
	if (!value) {
		/* BPF_NOEXIST: another CPU may have created it meanwhile; either way look again. */
		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		value = bpf_map_lookup_elem(map, key);
		if (!value)
			return;
	}
	__sync_fetch_and_add(value, delta);
}

/*
 * Counts v in the histogram `map`: key (a pointer to the key struct, labels
 * filled in) gets its bucket field set to b, which is counted, and then to
 * max + 1, which accumulates v. Arguments may be evaluated more than once.
 */
#define ksx_histogram_add(map, key, b, max, v)                                                     \
	do {                                                                                       \
		(key)->bucket = (b);                                                               \
		ksx_add(map, key, 1);                                                              \
		(key)->bucket = (max) + 1;                                                         \
		ksx_add(map, key, v);                                                              \
	} while (0)

#define ksx_exp2_add(map, key, max, v) ksx_histogram_add(map, key, ksx_exp2_bucket(v, max), max, v)

#define ksx_linear_add(map, key, max, v)                                                           \
	ksx_histogram_add(map, key, ksx_linear_bucket(v, max), max, v)

#endif /* KSX_MAPS_BPF_H */
