#include "ring_reader.h"

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace kernscope {
namespace {

// Returned by the record callback to stop libbpf once the batch is full. The
// record it was called with has been kept, so nothing is lost.
constexpr int kBatchFull = -ENOSPC;
constexpr size_t kRecordPrefix = 8;

size_t Align8(size_t n) { return (n + 7) & ~static_cast<size_t>(7); }

}  // namespace

RingResource::RingResource(Napi::Env env, int map_fd) : env_(env) {
  LibbpfLog::Clear();
  ring_ = ring_buffer__new(map_fd, &RingResource::OnRecord, this, nullptr);
  if (ring_ == nullptr) ThrowBpfError(env, "open ring buffer", errno);
}

void RingResource::Release() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }
  on_readable_.Reset();
  if (ring_ != nullptr) {
    ring_buffer__free(ring_);
    ring_ = nullptr;
  }
}

bool RingResource::Append(const void* data, size_t size) {
  size_t need = kRecordPrefix + Align8(size);
  if (used_ + need > capacity_) return false;
  uint32_t prefix[2] = {static_cast<uint32_t>(size), 0};
  std::memcpy(batch_ + used_, prefix, sizeof(prefix));
  std::memcpy(batch_ + used_ + kRecordPrefix, data, size);
  used_ += need;
  return true;
}

int RingResource::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingResource*>(ctx);
  if (size > self->largest_record_) self->largest_record_ = size;
  if (!self->Append(data, size)) {
    // libbpf has already consumed this record: keep it for the next batch.
    self->pending_.assign(static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
    return kBatchFull;
  }
  // Stop while the largest record seen so far still fits.
  if (self->capacity_ - self->used_ < kRecordPrefix + Align8(self->largest_record_)) return kBatchFull;
  return 0;
}

size_t RingResource::Drain(uint8_t* batch, size_t capacity) {
  batch_ = batch;
  capacity_ = capacity;
  used_ = 0;
  if (!pending_.empty()) {
    if (!Append(pending_.data(), pending_.size())) {
      throw Napi::RangeError::New(
          env_, "batch buffer is smaller than one record (" + std::to_string(pending_.size()) + " bytes)");
    }
    pending_.clear();
  }
  int err = ring_buffer__consume(ring_);
  if (err < 0 && err != kBatchFull) ThrowBpfError(env_, "consume ring buffer", err);
  return used_;
}

void RingResource::Watch(Napi::Function on_readable) {
  if (poll_ != nullptr) throw Napi::Error::New(env_, "ring reader is already watched");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env_, &loop);
  poll_ = new uv_poll_t;
  int err = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(ring_));
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
                         InstanceMethod("drain", &RingReader::Drain),
                         InstanceMethod("watch", &RingReader::Watch),
                         InstanceMethod("close", &RingReader::Close),
                     });
}

// new RingReader(object: BpfObject, map: string, batch: ArrayBuffer)
RingReader::RingReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingReader>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowUsage(env, "RingReader needs a loaded BpfObject");
  BpfObject* object = BpfObject::Unwrap(info[0].As<Napi::Object>());
  if (object == nullptr) ThrowUsage(env, "RingReader needs a loaded BpfObject");
  bpf_map* map = object->FindMap(env, info[1]);
  if (!object->IsLoaded()) ThrowUsage(env, "RingReader needs a loaded object: call load() first");
  if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF) {
    ThrowUsage(env, std::string("map '") + bpf_map__name(map) + "' is not a ring buffer");
  }
  if (!info[2].IsArrayBuffer()) ThrowUsage(env, "batch must be an ArrayBuffer");
  Napi::ArrayBuffer batch = info[2].As<Napi::ArrayBuffer>();
  if (batch.ByteLength() < 4096) ThrowUsage(env, "batch must be at least 4096 bytes");
  batch_ref_ = Napi::Persistent(batch);
  batch_ = static_cast<uint8_t*>(batch.Data());
  capacity_ = batch.ByteLength();
  ring_ = std::make_shared<RingResource>(env, bpf_map__fd(map));
  object->Own(ring_);
}

Napi::Value RingReader::Drain(const Napi::CallbackInfo& info) {
  if (!ring_ || ring_->IsReleased()) ThrowUsage(info.Env(), "ring reader is closed");
  return Napi::Number::New(info.Env(), static_cast<double>(ring_->Drain(batch_, capacity_)));
}

void RingReader::Watch(const Napi::CallbackInfo& info) {
  if (!ring_ || ring_->IsReleased()) ThrowUsage(info.Env(), "ring reader is closed");
  if (!info[0].IsFunction()) ThrowUsage(info.Env(), "watch needs a callback function");
  ring_->Watch(info[0].As<Napi::Function>());
}

void RingReader::Close(const Napi::CallbackInfo&) {
  if (ring_) ring_->Release();
}

}  // namespace kernscope
