// Errors from libbpf become one JS error class (BpfError) carrying the
// failing operation, errno and what libbpf printed while it failed.
#pragma once

#include <napi.h>

#include <string>

namespace kernscope {

// Collects libbpf's warnings for the operation in progress; the text is
// attached to the error if the operation fails.
class LibbpfLog {
 public:
  static void Install();
  static void Clear();
  static std::string Take();
};

// Throws BpfError{op, errno, code, message}. `err` may be negative (libbpf
// style) or positive.
[[noreturn]] void ThrowBpfError(Napi::Env env, const std::string& op, int err,
                                const std::string& detail = "");

// Throws a TypeError for misuse from JS (wrong argument types, closed handle).
[[noreturn]] void ThrowUsage(Napi::Env env, const std::string& message);

}  // namespace kernscope
