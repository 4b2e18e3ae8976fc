// SPDX-License-Identifier: GPL-2.0-only
/*
 * tcp_requests: connection requests (SYNs answered with a SYN-ACK and held
 * in a listener's request queue, syncookies aside) by local port. The
 * kernel arms each request's retransmit timer, rsk_timer, when it queues
 * the request; a timer start whose callback is reqsk_timer_handler is
 * therefore one request, and the timer sits inside the request socket.
 *
 * reqsk_timer_handler is static, so its address comes from user space:
 * the YAML's `kaddrs` list fills kaddr_reqsk_timer_handler before load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 kaddr_reqsk_timer_handler = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* local port, host order (widened from skc_num) */
	__type(value, __u64);
} tcp_requests_total SEC(".maps");

SEC("tp_btf/timer_start")
int BPF_PROG(timer_start, struct timer_list *timer, unsigned long bucket_expiry)
{
	struct request_sock *req;
	__u32 port;

	if (!kaddr_reqsk_timer_handler ||
	    (__u64)BPF_CORE_READ(timer, function) != kaddr_reqsk_timer_handler)
		return 0;
	/* container_of(timer, struct request_sock, rsk_timer), with the offset relocated by CO-RE. */
	req = (void *)timer - bpf_core_field_offset(struct request_sock, rsk_timer);
	port = BPF_CORE_READ(req, __req_common.skc_num);
	ksx_add(&tcp_requests_total, &port, 1);
	return 0;
}
