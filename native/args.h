// Reading JS arguments in C++: each reader throws a TypeError naming the
// argument when the value is not what it must be. (TypeScript validates
// first; these keep a bad call from reaching libbpf.)
#pragma once

#include <linux/types.h>
#include <napi.h>

#include <string>
#include <vector>

namespace kernscope {

std::string StringArg(const Napi::CallbackInfo& info, size_t index, const char* what);
std::string StringValue(Napi::Env env, const Napi::Value& value, const char* what);
Napi::Uint8Array BytesArg(const Napi::CallbackInfo& info, size_t index, const char* what);
// A raw_tp test run's context: an array of at most 12 integers, a negative one
// a signed argument (two's complement).
std::vector<__u64> ContextWordsArg(const Napi::CallbackInfo& info, size_t index);

}  // namespace kernscope
