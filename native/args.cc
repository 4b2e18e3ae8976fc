#include "args.h"

#include <cmath>
#include <cstdint>

#include "errors.h"

namespace kernscope {
namespace {

// The kernel's MAX_BPF_FUNC_ARGS (not in the uapi headers): a raw_tp test run
// takes at most this many context words.
constexpr uint32_t kMaxContextArgs = 12;

// Number.MAX_SAFE_INTEGER: larger doubles are not exact integers.
constexpr double kMaxSafeInteger = 9007199254740991.0;

}  // namespace

std::string StringArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  return StringValue(info.Env(), info[index], what);
}

// A NUL would end the name early in libbpf: "drops\0x" must not find "drops".
std::string StringValue(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsString()) ThrowUsage(env, std::string(what) + " must be a string");
  std::string text = value.As<Napi::String>().Utf8Value();
  if (text.find('\0') != std::string::npos) ThrowUsage(env, std::string(what) + " must not contain NUL");
  return text;
}

Napi::Uint8Array BytesArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (!info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowUsage(info.Env(), std::string(what) + " must be a Uint8Array");
  }
  return info[index].As<Napi::Uint8Array>();
}

std::vector<__u64> ContextWordsArg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (!info[index].IsArray()) ThrowUsage(env, "test run arguments must be an array of numbers");
  Napi::Array args = info[index].As<Napi::Array>();
  // Checked before allocating: a sparse array can claim 2^32 - 1 elements.
  if (args.Length() > kMaxContextArgs) {
    ThrowUsage(env, "test run takes at most " + std::to_string(kMaxContextArgs) + " arguments, got " +
                        std::to_string(args.Length()));
  }
  std::vector<__u64> words(args.Length());
  for (uint32_t i = 0; i < args.Length(); i++) {
    Napi::Value v = args.Get(i);
    if (!v.IsNumber()) ThrowUsage(env, "test run arguments must be numbers");
    double word = v.As<Napi::Number>().DoubleValue();
    if (!(std::fabs(word) <= kMaxSafeInteger) || word != std::trunc(word)) {
      ThrowUsage(env, "test run arguments must be integers from -(2^53 - 1) to 2^53 - 1, got " +
                          v.ToString().Utf8Value());
    }
    words[i] = static_cast<__u64>(static_cast<int64_t>(word));
  }
  return words;
}

}  // namespace kernscope
