// Per-environment state of the addon (worker threads each get their own).
#pragma once

#include <napi.h>

#include <set>

namespace kernscope {

class BpfObject;

struct AddonData {
  Napi::FunctionReference error_class;  // the TypeScript BpfError
  Napi::FunctionReference link_class;
  Napi::FunctionReference ring_reader_class;
  std::set<BpfObject*> open_objects;  // closed at environment teardown
  int run_time_stats_fd = -1;         // BPF_ENABLE_STATS handle, if enabled
};

inline AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace kernscope
