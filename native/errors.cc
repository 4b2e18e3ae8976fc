#include "errors.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "addon_data.h"

namespace kernscope {
namespace {

// libbpf logs through one global callback; all calls into libbpf happen on
// the JS thread, so one buffer is enough.
std::string log_buffer;
constexpr size_t kMaxLogBytes = 16 * 1024;
constexpr int kKernelEnotsupp = 524;  // include/linux/errno.h, not in the uapi headers

int CollectLibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  // One call can carry the whole verifier log, whose verdict is at its end: format it all.
  va_list again;
  va_copy(again, args);
  int n = vsnprintf(nullptr, 0, format, args);
  if (n > 0) {
    std::string line(static_cast<size_t>(n) + 1, '\0');
    vsnprintf(line.data(), line.size(), format, again);
    log_buffer.append(line.data(), static_cast<size_t>(n));
  }
  va_end(again);
  if (n <= 0) return n;
  // Keep the tail: the verifier's verdict is at the end of its log.
  if (log_buffer.size() > kMaxLogBytes) log_buffer.erase(0, log_buffer.size() - kMaxLogBytes);
  return n;
}

}  // namespace

void LibbpfLog::Install() { libbpf_set_print(CollectLibbpfPrint); }
void LibbpfLog::Clear() { log_buffer.clear(); }
std::string LibbpfLog::Take() {
  std::string out;
  out.swap(log_buffer);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

void ThrowBpfError(Napi::Env env, const std::string& op, int err, const std::string& detail) {
  int code = err < 0 ? -err : err;
  // libbpf's own codes (4000+) say e.g. "Invalid ELF format"; errno names don't.
  char reason[256];
  libbpf_strerror(code, reason, sizeof(reason));
  const char* name = code >= __LIBBPF_ERRNO__START ? "ELIBBPF" : strerrorname_np(code);
  // The kernel's ENOTSUPP leaks to user space with no name in libc ("Unknown error 524").
  if (code == kKernelEnotsupp) {
    name = "ENOTSUPP";
    snprintf(reason, sizeof(reason), "operation not supported for this map or program type");
  }
  std::string message = op + ": " + reason;
  if (!detail.empty()) message += " (" + detail + ")";
  std::string log = LibbpfLog::Take();

  Napi::FunctionReference& error_class = Data(env).error_class;
  Napi::Object error;
  if (!error_class.IsEmpty()) {
    error = error_class.New({Napi::String::New(env, message)});
  } else {
    error = Napi::Error::New(env, message).Value();
  }
  error.Set("op", op);
  error.Set("errno", code);
  error.Set("code", name != nullptr ? name : "E" + std::to_string(code));
  error.Set("libbpfLog", log);
  throw Napi::Error(env, error);
}

void ThrowUsage(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

}  // namespace kernscope
