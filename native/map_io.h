// Reading a loaded object's maps from user space, and freezing them. How a
// map's values come back (one per possible CPU in a per-CPU map, each padded
// to 8 bytes) is decided here and nowhere else: TypeScript reads it from what
// entries() returns.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace kernscope {

// The layout of one key's value as a lookup returns it.
struct ValueLayout {
  size_t stride;  // bytes from one CPU's value to the next
  uint32_t cpus;  // values per key: the possible CPUs in a per-CPU map, else 1
  size_t Bytes() const { return stride * cpus; }
};

ValueLayout ValueLayoutOf(Napi::Env env, const bpf_map* map);

// The map's fd, or a TypeError when load() did not create it (autocreate off).
int MapFd(Napi::Env env, const bpf_map* map);

// The value under `key` (laid out as ValueLayoutOf says), or null when the key is absent.
Napi::Value LookupValue(Napi::Env env, const bpf_map* map, const Napi::Uint8Array& key);

// Every key and value, packed, and how the values are laid out:
// {count, keys, values, valueStride, cpus} (ValueLayout).
Napi::Object ReadEntries(Napi::Env env, const bpf_map* map);

// BPF_MAP_FREEZE: read-only from user space from now on; the programs still write it.
void Freeze(Napi::Env env, const bpf_map* map);

}  // namespace kernscope
