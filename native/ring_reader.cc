#include "ring_reader.h"

#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace kernscope {
namespace {

uint64_t LoadAcquire(const void* p) {
  return __atomic_load_n(static_cast<const uint64_t*>(p), __ATOMIC_ACQUIRE);
}
uint32_t LoadAcquire32(const void* p) {
  return __atomic_load_n(static_cast<const uint32_t*>(p), __ATOMIC_ACQUIRE);
}

}  // namespace

RingMapping::RingMapping(int map_fd, uint32_t ring_size)
    : size(ring_size), page_size(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
  consumer = mmap(nullptr, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (consumer == MAP_FAILED) {
    consumer = nullptr;
    return;
  }
  producer = mmap(nullptr, page_size + 2 * static_cast<size_t>(size), PROT_READ, MAP_SHARED, map_fd,
                  static_cast<off_t>(page_size));
  if (producer == MAP_FAILED) producer = nullptr;
}

RingMapping::~RingMapping() {
  if (consumer != nullptr) munmap(consumer, page_size);
  if (producer != nullptr) munmap(producer, page_size + 2 * static_cast<size_t>(size));
}

RingResource::RingResource(Napi::Env env, int map_fd, uint32_t size)
    : env_(env), map_fd_(map_fd), mapping_(std::make_shared<RingMapping>(map_fd, size)) {
  if (!mapping_->ok()) ThrowBpfError(env, "mmap ring buffer", errno);
  // The ArrayBuffer co-owns the mapping: it stays valid while JS can reach it.
  auto* owner = new std::shared_ptr<RingMapping>(mapping_);
  Napi::ArrayBuffer data = Napi::ArrayBuffer::New(
      env, mapping_->data(), 2 * static_cast<size_t>(size),
      [](Napi::Env, void*, std::shared_ptr<RingMapping>* hint) { delete hint; }, owner);
  data_ = Napi::Persistent(data);
  consumer_pos_ = scanned_pos_ = LoadAcquire(mapping_->consumer);
}

void RingResource::Release() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }
  on_readable_.Reset();
  data_.Reset();
  mapping_.reset();
}

// Bytes of complete records from the consumer position on. Stops at the first
// record the kernel is still writing (busy bit).
uint64_t RingResource::Ready() {
  const uint8_t* data = mapping_->data();
  const uint64_t mask = mapping_->size - 1;
  const uint64_t producer = LoadAcquire(mapping_->producer);
  uint64_t pos = scanned_pos_;
  while (pos < producer) {
    uint32_t header = LoadAcquire32(data + (pos & mask));
    if (header & BPF_RINGBUF_BUSY_BIT) break;
    uint32_t length = header & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    pos += (static_cast<uint64_t>(length) + BPF_RINGBUF_HDR_SZ + 7) & ~static_cast<uint64_t>(7);
  }
  scanned_pos_ = pos;
  return pos - consumer_pos_;
}

// Hands `bytes` (whole records, as walked by JS) back to the kernel.
void RingResource::Commit(uint64_t bytes) {
  if (bytes > scanned_pos_ - consumer_pos_) {
    throw Napi::RangeError::New(env_, "commit(" + std::to_string(bytes) + ") is past the ready records (" +
                                          std::to_string(scanned_pos_ - consumer_pos_) + " bytes)");
  }
  consumer_pos_ += bytes;
  __atomic_store_n(static_cast<uint64_t*>(mapping_->consumer), consumer_pos_, __ATOMIC_RELEASE);
}

void RingResource::Watch(Napi::Function on_readable) {
  if (poll_ != nullptr) ThrowUsage(env_, "ring reader is already watched");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env_, &loop);
  poll_ = new uv_poll_t;
  int err = uv_poll_init(loop, poll_, map_fd_);
  if (err != 0) {
    delete poll_;
    poll_ = nullptr;
    ThrowBpfError(env_, "poll ring buffer", err);
  }
  poll_->data = this;
  on_readable_ = Napi::Persistent(on_readable);
  uv_poll_start(poll_, UV_READABLE, &RingResource::OnReadable);
}

void RingResource::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<RingResource*>(handle->data);
  if (status < 0 || self->on_readable_.IsEmpty()) return;
  Napi::HandleScope scope(self->env_);
  try {
    self->on_readable_.MakeCallback(self->env_.Global(), {});
  } catch (const Napi::Error& e) {
    // Outside any JS call: hand the exception to process 'uncaughtException'.
    napi_fatal_exception(self->env_, e.Value());
  }
}

Napi::Function RingReader::Init(Napi::Env env) {
  return DefineClass(env, "RingReader",
                     {
                         InstanceMethod("ready", &RingReader::Ready),
                         InstanceMethod("commit", &RingReader::Commit),
                         InstanceMethod("offset", &RingReader::Offset),
                         InstanceMethod("watch", &RingReader::Watch),
                         InstanceMethod("close", &RingReader::Close),
                     });
}

// new RingReader(object: BpfObject, map: string)
RingReader::RingReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingReader>(info) {
  Napi::Env env = info.Env();
  BpfObject* object = BpfObject::FromValue(env, info[0], "RingReader");
  bpf_map* map = object->FindMap(env, info[1]);
  if (!object->IsLoaded()) ThrowUsage(env, "RingReader needs a loaded object: call load() first");
  if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF) {
    ThrowUsage(env, std::string("map '") + bpf_map__name(map) + "' is not a ring buffer");
  }
  ring_ = std::make_shared<RingResource>(env, bpf_map__fd(map), bpf_map__max_entries(map));
  object->Own(ring_);
  object_ = Napi::Persistent(info[0].As<Napi::Object>());
  info.This().As<Napi::Object>().Set("data", ring_->Data());
  info.This().As<Napi::Object>().Set("size", bpf_map__max_entries(map));
}

RingResource& RingReader::Ring(Napi::Env env) {
  if (!ring_ || ring_->IsReleased()) ThrowUsage(env, "ring reader is closed");
  return *ring_;
}

Napi::Value RingReader::Ready(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Ring(info.Env()).Ready()));
}

void RingReader::Commit(const Napi::CallbackInfo& info) {
  RingResource& ring = Ring(info.Env());
  if (!info[0].IsNumber()) ThrowUsage(info.Env(), "commit needs a byte count");
  int64_t bytes = info[0].As<Napi::Number>().Int64Value();
  if (bytes < 0) ThrowUsage(info.Env(), "commit needs a non-negative byte count");
  ring.Commit(static_cast<uint64_t>(bytes));
}

Napi::Value RingReader::Offset(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Ring(info.Env()).Offset());
}

void RingReader::Watch(const Napi::CallbackInfo& info) {
  RingResource& ring = Ring(info.Env());
  if (!info[0].IsFunction()) ThrowUsage(info.Env(), "watch needs a callback function");
  ring.Watch(info[0].As<Napi::Function>());
}

void RingReader::Close(const Napi::CallbackInfo&) {
  if (!ring_ || ring_->IsReleased()) return;
  // Detach first: JS holding `data` then sees an empty buffer, not a ring nobody drains.
  ring_->Data().Detach();
  ring_->Release();
}

}  // namespace kernscope
