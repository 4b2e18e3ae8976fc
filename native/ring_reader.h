// RingReader: drains a BPF ring buffer into a batch buffer owned by JS, so a
// whole batch of records crosses into JS in one call.
//
// Batch layout, repeated: u32 record length, u32 zero, record bytes padded to
// 8. Readiness comes from a libuv poll on the ring's epoll fd (the kernel wakes
// it once `wakeup_bytes` are waiting); JS also drains on a timer.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "bpf_object.h"

namespace kernscope {

class RingResource : public OwnedResource {
 public:
  RingResource(Napi::Env env, int map_fd);
  ~RingResource() override { Release(); }
  void Release() override;
  bool IsReleased() const { return ring_ == nullptr; }

  // Copies waiting records into `batch`; returns bytes written (0: empty).
  size_t Drain(uint8_t* batch, size_t capacity);
  void Watch(Napi::Function on_readable);

 private:
  static int OnRecord(void* ctx, void* data, size_t size);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  bool Append(const void* data, size_t size);

  Napi::Env env_;
  ring_buffer* ring_ = nullptr;
  uv_poll_t* poll_ = nullptr;  // freed by uv_close's callback
  Napi::FunctionReference on_readable_;
  // Drain state for the batch being filled.
  uint8_t* batch_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
  size_t largest_record_ = 256;
  // A record that arrived when the batch was full; it leads the next batch.
  std::vector<uint8_t> pending_;
};

class RingReader : public Napi::ObjectWrap<RingReader> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit RingReader(const Napi::CallbackInfo& info);

 private:
  Napi::Value Drain(const Napi::CallbackInfo& info);
  void Watch(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  std::shared_ptr<RingResource> ring_;
  Napi::Reference<Napi::ArrayBuffer> batch_ref_;  // keeps the batch alive
  uint8_t* batch_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace kernscope
