// RingReader: maps a BPF ring buffer into this process for JS to consume in
// place. The kernel lays the ring out as a consumer page (read-write), then a
// producer page and the data pages twice in a row (read-only), so no record
// wraps. JS reads the positions with Atomics (acquire/release, as the ring
// protocol requires), walks the records where they are and advances the
// consumer position: no copy and no native call per batch.
//
// Readiness: a libuv poll in the event loop calls back (woken = true). It
// waits on the ring's fd edge-triggered: readiness is the kernel's wakeup,
// given once `wakeup_bytes` wait (or per record, with a wakeup per record),
// not the mere presence of data. (A native thread in place of the poll cost
// more CPU and saved nothing: bench/README.md, Readiness.)
// A native timer calls it too (woken = false), only when the ring holds
// records, which bounds latency when traffic is light.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>

#include "bpf_object.h"

namespace kernscope {

class RingResource : public OwnedResource {
 public:
  RingResource(Napi::Env env, int map_fd, uint32_t size);
  ~RingResource() override;
  void Release() override;
  bool IsReleased() const { return consumer_.IsEmpty(); }

  Napi::ArrayBuffer Consumer() const { return consumer_.Value(); }
  Napi::ArrayBuffer Producer() const { return producer_.Value(); }
  void Detach();
  void Watch(Napi::Function on_readable, uint32_t interval_ms);

 private:
  static void OnReadable(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  void CallJs(bool woken);
  bool HoldsRecords() const;

  Napi::Env env_;
  int map_fd_;
  // Each ArrayBuffer owns its mapping: it is unmapped only when JS can no
  // longer reach the buffer, so JS never reads unmapped memory.
  Napi::Reference<Napi::ArrayBuffer> consumer_;
  Napi::Reference<Napi::ArrayBuffer> producer_;
  int edge_fd_ = -1;                   // EdgeTriggered(map_fd_) while watched
  const uint64_t* consumer_position_;  // byte 0 of consumer_
  const uint64_t* producer_position_;  // byte 0 of producer_
  uv_poll_t* poll_ = nullptr;          // freed by uv_close's callback
  uv_timer_t* timer_ = nullptr;        // likewise
  Napi::FunctionReference on_readable_;
};

class RingReader : public Napi::ObjectWrap<RingReader> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit RingReader(const Napi::CallbackInfo& info);

 private:
  void Watch(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  std::shared_ptr<RingResource> ring_;
  Napi::ObjectReference object_;  // keeps the BpfObject alive as long as this reader
};

}  // namespace kernscope
