// What this kernel can do for kernscope: BTF, ring buffers, attach kinds.
#pragma once

#include <napi.h>

namespace kernscope {

// kernelFeatures() -> { btf, ringbuf, attach: { kind: { ok, reason } } }
Napi::Value KernelFeatures(const Napi::CallbackInfo& info);

}  // namespace kernscope
