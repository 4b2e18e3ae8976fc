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

struct Mapping {
  void* address;
  size_t length;
  ~Mapping() { munmap(address, length); }
};

// Maps part of the ring and wraps it in an ArrayBuffer that owns the mapping.
Napi::ArrayBuffer MapRing(Napi::Env env, int fd, size_t length, int protection, off_t offset) {
  void* address = mmap(nullptr, length, protection, MAP_SHARED, fd, offset);
  if (address == MAP_FAILED) ThrowBpfError(env, "mmap ring buffer", errno);
  auto* mapping = new Mapping{address, length};
  return Napi::ArrayBuffer::New(
      env, address, length, [](Napi::Env, void*, Mapping* m) { delete m; }, mapping);
}

}  // namespace

RingResource::RingResource(Napi::Env env, int map_fd, uint32_t size) : env_(env), map_fd_(map_fd) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  consumer_ = Napi::Persistent(MapRing(env, map_fd, page, PROT_READ | PROT_WRITE, 0));
  producer_ = Napi::Persistent(MapRing(env, map_fd, page + 2 * static_cast<size_t>(size), PROT_READ,
                                       static_cast<off_t>(page)));
}

void RingResource::Release() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }
  on_readable_.Reset();
  consumer_.Reset();
  producer_.Reset();
}

// After close, JS holding the buffers sees them empty, not a ring nobody drains.
void RingResource::Detach() {
  if (IsReleased()) return;
  Consumer().Detach();
  Producer().Detach();
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
  Napi::Object self = info.This().As<Napi::Object>();
  self.Set("consumer", ring_->Consumer());
  self.Set("producer", ring_->Producer());
  self.Set("dataOffset", sysconf(_SC_PAGESIZE));
  self.Set("size", bpf_map__max_entries(map));
}

void RingReader::Watch(const Napi::CallbackInfo& info) {
  if (!ring_ || ring_->IsReleased()) ThrowUsage(info.Env(), "ring reader is closed");
  if (!info[0].IsFunction()) ThrowUsage(info.Env(), "watch needs a callback function");
  ring_->Watch(info[0].As<Napi::Function>());
}

void RingReader::Close(const Napi::CallbackInfo&) {
  if (!ring_ || ring_->IsReleased()) return;
  ring_->Detach();
  ring_->Release();
}

}  // namespace kernscope
