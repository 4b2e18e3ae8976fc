#include "map_io.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <string>
#include <vector>

#include "errors.h"

namespace kernscope {
namespace {

bool IsPerCpu(enum bpf_map_type type) {
  return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

}  // namespace

// The kernel copies a per-CPU value out 8-byte aligned, one per possible CPU
// (bpf_percpu_hash_copy and the like).
ValueLayout ValueLayoutOf(Napi::Env env, const bpf_map* map) {
  size_t size = bpf_map__value_size(map);
  if (!IsPerCpu(bpf_map__type(map))) return {size, 1};
  int cpus = libbpf_num_possible_cpus();
  if (cpus < 0) ThrowBpfError(env, "count possible CPUs", cpus);
  return {(size + 7) / 8 * 8, static_cast<uint32_t>(cpus)};
}

int MapFd(Napi::Env env, const bpf_map* map) {
  int fd = bpf_map__fd(map);
  if (fd < 0)
    ThrowUsage(env, std::string("map '") + bpf_map__name(map) + "' was not created (autocreate off)");
  return fd;
}

Napi::Value LookupValue(Napi::Env env, const bpf_map* map, const Napi::Uint8Array& key) {
  if (key.ByteLength() != bpf_map__key_size(map)) {
    ThrowUsage(env, std::string("key for map '") + bpf_map__name(map) + "' must be " +
                        std::to_string(bpf_map__key_size(map)) + " bytes");
  }
  int fd = MapFd(env, map);
  Napi::Uint8Array value = Napi::Uint8Array::New(env, ValueLayoutOf(env, map).Bytes());
  if (bpf_map_lookup_elem(fd, key.Data(), value.Data()) != 0) {
    if (errno == ENOENT) return env.Null();
    ThrowBpfError(env, std::string("lookup in ") + bpf_map__name(map), errno);
  }
  return value;
}

Napi::Object ReadEntries(Napi::Env env, const bpf_map* map) {
  int fd = MapFd(env, map);
  size_t key_size = bpf_map__key_size(map);
  ValueLayout layout = ValueLayoutOf(env, map);
  std::vector<uint8_t> keys, values, key(key_size), next(key_size), value(layout.Bytes());

  const void* previous = nullptr;  // NULL asks for the first key
  while (bpf_map_get_next_key(fd, previous, next.data()) == 0) {
    key.swap(next);
    previous = key.data();
    // A hash entry can vanish between get_next_key and lookup: skip it.
    if (bpf_map_lookup_elem(fd, key.data(), value.data()) != 0) continue;
    keys.insert(keys.end(), key.begin(), key.end());
    values.insert(values.end(), value.begin(), value.end());
  }
  if (errno != ENOENT) ThrowBpfError(env, std::string("iterate ") + bpf_map__name(map), errno);

  Napi::Object out = Napi::Object::New(env);
  out.Set("count", keys.size() / key_size);
  out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), keys.size()));
  out.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), values.size()));
  out.Set("valueStride", layout.stride);
  out.Set("cpus", layout.cpus);
  return out;
}

// A frozen map cannot be unfrozen.
void Freeze(Napi::Env env, const bpf_map* map) {
  if (bpf_map_freeze(MapFd(env, map)) != 0) {
    int err = errno;
    ThrowBpfError(env, std::string("freeze ") + bpf_map__name(map), err,
                  err == EPERM   ? "frozen already"
                  : err == EBUSY ? "mapped writable or being written"
                                 : "");
  }
}

}  // namespace kernscope
