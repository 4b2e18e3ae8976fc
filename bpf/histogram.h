/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * In-kernel latency histograms whose slots are exactly the buckets of a
 * Prometheus native histogram (and an OTLP exponential one) in seconds:
 * values are counted in units of 2^-30 s (KS_UNIT_SHIFT), and with
 * KS_HISTOGRAM_SCHEMA = s (2^s buckets per power of two):
 *   slot 0      counts values of 0;
 *   slot j >= 1 counts values v with 2^((j-2)/2^s) < v <= 2^((j-1)/2^s) units,
 *               upper-inclusive as native buckets are; its Prometheus bucket
 *               index in seconds is j - 1 - 30 * 2^s.
 * 64 octaves cover every u64 value: no slot takes "everything larger".
 * User space exports slot j's upper edge as its `le` bound.
 */
#ifndef KERNSCOPE_HISTOGRAM_H
#define KERNSCOPE_HISTOGRAM_H

/* Objects are built once per schema (Makefile); 0 unless the build says. */
#ifndef KS_HISTOGRAM_SCHEMA
#define KS_HISTOGRAM_SCHEMA 0
#endif

#define KS_UNIT_SHIFT 30
#define KS_HISTOGRAM_SLOTS (2 + (64 << KS_HISTOGRAM_SCHEMA))

#endif /* KERNSCOPE_HISTOGRAM_H */
