// The kernscope addon: libbpf objects, links, ring readers and kernel
// feature probes for the TypeScript agent. No metric logic lives here.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <napi.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "addon_data.h"
#include "bpf_link.h"
#include "bpf_object.h"
#include "capabilities.h"
#include "errors.h"
#include "features.h"
#include "ring_reader.h"

namespace kernscope {
namespace {

// setErrorClass(BpfError): the class every libbpf failure is thrown as.
void SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowUsage(info.Env(), "setErrorClass needs a constructor");
  Data(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
}

// enableRunTimeStats(): makes the kernel account run time per program
// (BPF_ENABLE_STATS) for as long as this environment lives.
Napi::Value EnableRunTimeStats(const Napi::CallbackInfo& info) {
  AddonData& data = Data(info.Env());
  if (data.run_time_stats_fd < 0) {
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd < 0) ThrowBpfError(info.Env(), "enable run-time stats", errno);
    data.run_time_stats_fd = fd;
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(
      info.Env(), std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version()));
}

// Environment teardown (process exit, worker exit): close every object still
// open, which destroys its links, so nothing stays attached.
void Teardown(AddonData* data) {
  std::vector<BpfObject*> open(data->open_objects.begin(), data->open_objects.end());
  for (BpfObject* object : open) object->Close();
  if (data->run_time_stats_fd >= 0) close(data->run_time_stats_fd);
  data->run_time_stats_fd = -1;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  env.AddCleanupHook([data]() { Teardown(data); });
  LibbpfLog::Install();

  data->link_class = Napi::Persistent(BpfLink::Init(env));
  data->ring_reader_class = Napi::Persistent(RingReader::Init(env));
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("RingReader", data->ring_reader_class.Value());
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
  exports.Set("kernelFeatures", Napi::Function::New(env, KernelFeatures));
  exports.Set("enableRunTimeStats", Napi::Function::New(env, EnableRunTimeStats));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("dropCapabilities", Napi::Function::New(env, DropCapabilities));
  return exports;
}

}  // namespace kernscope

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return kernscope::Init(env, exports); }

NODE_API_MODULE(kernscope, InitAddon)
