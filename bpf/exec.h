/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KERNSCOPE_EXEC_H
#define KERNSCOPE_EXEC_H

#include "record.h"

enum { EXEC_RECORD_VERSION = 1 };
#define EXEC_FILENAME_LEN 128

struct exec_record {
	struct ks_record_header hdr;
	__u32 ppid;
	__u32 uid;
	char comm[KS_COMM_LEN];
	char filename[EXEC_FILENAME_LEN];
};

_Static_assert(sizeof(struct exec_record) == 184, "exec_record is ABI");

#endif /* KERNSCOPE_EXEC_H */
