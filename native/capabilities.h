// Dropping capabilities in every thread of the process. Linux keeps the
// capability sets and no_new_privs per thread, and Node runs several threads
// (libuv's pool doing file I/O for JS, V8's workers, the inspector's SIGUSR1
// watchdog), so each thread must drop its own.
#pragma once

#include <napi.h>

namespace kernscope {

// dropCapabilities(keep: bigint) -> { signal, threads }: every thread keeps
// only the capabilities in `keep` (bit N for capability N) that it holds,
// clears its inheritable and ambient sets, drops the others from its bounding
// set (where it holds CAP_SETPCAP) and sets no_new_privs.
Napi::Value DropCapabilities(const Napi::CallbackInfo& info);

}  // namespace kernscope
