/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * In-kernel log2 histograms: slot i counts values v with floor(log2(v)) == i
 * (slot 0 also takes 0); the last slot takes everything larger. User space
 * exports slot i as the bucket le = 2^(i+1), the last slot as +Inf.
 */
#ifndef KERNSCOPE_HISTOGRAM_H
#define KERNSCOPE_HISTOGRAM_H

#define KS_LOG2_SLOTS 32

#endif /* KERNSCOPE_HISTOGRAM_H */
