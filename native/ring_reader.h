// RingReader: zero-copy access to a BPF ring buffer. The ring's data pages are
// mapped into this process (twice in a row, as the kernel lays them out, so no
// record wraps) and handed to JS as one ArrayBuffer; JS walks the records in
// place and commits what it consumed. Per batch: one ready() and one commit().
//
// Readiness: a libuv poll on the ring's fd (the kernel wakes it once
// `wakeup_bytes` wait); JS also drains on a timer.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>

#include "bpf_object.h"

namespace kernscope {

// The mmapped ring; unmapped when both the reader and the JS ArrayBuffer
// over its data are gone, so JS can never read unmapped memory.
struct RingMapping {
  RingMapping(int map_fd, uint32_t size);
  ~RingMapping();
  bool ok() const { return consumer != nullptr && producer != nullptr; }

  uint32_t size;
  size_t page_size;
  void* consumer = nullptr;  // page holding consumer_pos (read-write)
  void* producer = nullptr;  // page holding producer_pos, then the data pages twice (read-only)
  uint8_t* data() const { return static_cast<uint8_t*>(producer) + page_size; }
};

class RingResource : public OwnedResource {
 public:
  RingResource(Napi::Env env, int map_fd, uint32_t size);
  ~RingResource() override { Release(); }
  void Release() override;
  bool IsReleased() const { return mapping_ == nullptr; }

  Napi::ArrayBuffer Data() const { return data_.Value(); }
  uint32_t Offset() const { return static_cast<uint32_t>(consumer_pos_ & (mapping_->size - 1)); }
  uint64_t Ready();
  void Commit(uint64_t bytes);
  void Watch(Napi::Function on_readable);

 private:
  static void OnReadable(uv_poll_t* handle, int status, int events);

  Napi::Env env_;
  int map_fd_;
  std::shared_ptr<RingMapping> mapping_;
  Napi::Reference<Napi::ArrayBuffer> data_;
  uint64_t consumer_pos_ = 0;
  uint64_t scanned_pos_ = 0;   // records up to here are complete (busy bit clear)
  uv_poll_t* poll_ = nullptr;  // freed by uv_close's callback
  Napi::FunctionReference on_readable_;
};

class RingReader : public Napi::ObjectWrap<RingReader> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit RingReader(const Napi::CallbackInfo& info);

 private:
  RingResource& Ring(Napi::Env env);
  Napi::Value Ready(const Napi::CallbackInfo& info);
  void Commit(const Napi::CallbackInfo& info);
  Napi::Value Offset(const Napi::CallbackInfo& info);
  void Watch(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  std::shared_ptr<RingResource> ring_;
  Napi::ObjectReference object_;  // keeps the BpfObject alive as long as this reader
};

}  // namespace kernscope
