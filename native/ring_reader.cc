#include "ring_reader.h"

#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errors.h"
#include "map_io.h"

namespace kernscope {
namespace {

constexpr double kMaxIntervalMs = 3600000;  // watch()'s longest timer interval: an hour

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

// An epoll set holding the ring's fd edge-triggered: it turns readable when
// the kernel wakes the ring's readers (once wakeup_bytes wait, or on a forced
// wakeup), not whenever the ring holds data. Level-triggered readiness made
// a busy ring readable on every loop turn, so under sustained load JS drained
// a few records per turn (about 10 at the maximum rate) instead of the batch
// the wakeup policy asks for. Records left behind wait for the timer drain.
int EdgeTriggered(int ring_fd) {
  int edge_fd = epoll_create1(EPOLL_CLOEXEC);
  if (edge_fd < 0) return -errno;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  if (epoll_ctl(edge_fd, EPOLL_CTL_ADD, ring_fd, &event) != 0) {
    int err = errno;
    close(edge_fd);
    return -err;
  }
  return edge_fd;
}

// Takes the pending edge, so the set is not readable again until the next wakeup.
void ConsumeEdge(int edge_fd) {
  epoll_event event;
  while (epoll_wait(edge_fd, &event, 1, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

RingResource::RingResource(Napi::Env env, int map_fd, uint32_t size) : env_(env), map_fd_(map_fd) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  consumer_ = Napi::Persistent(MapRing(env, map_fd, page, PROT_READ | PROT_WRITE, 0));
  producer_ = Napi::Persistent(
      MapRing(env, map_fd, page + 2 * static_cast<size_t>(size), PROT_READ, static_cast<off_t>(page)));
  // The buffers (and so the mappings) live as long as the references, which
  // Release() drops only after stopping the timer that reads these.
  consumer_position_ = static_cast<const uint64_t*>(Consumer().Data());
  producer_position_ = static_cast<const uint64_t*>(Producer().Data());
}

bool RingResource::HoldsRecords() const {
  return __atomic_load_n(producer_position_, __ATOMIC_ACQUIRE) !=
         __atomic_load_n(consumer_position_, __ATOMIC_ACQUIRE);
}

RingResource::~RingResource() { Release(); }

void RingResource::Release() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    timer_ = nullptr;
  }
  if (edge_fd_ >= 0) close(edge_fd_);  // after the poll stopped watching it
  edge_fd_ = -1;
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

void RingResource::Watch(Napi::Function on_readable, uint32_t interval_ms) {
  if (poll_ != nullptr || timer_ != nullptr) ThrowUsage(env_, "ring reader is already watched");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env_, &loop);
  on_readable_ = Napi::Persistent(on_readable);
  if (interval_ms > 0) {
    timer_ = new uv_timer_t;
    uv_timer_init(loop, timer_);
    timer_->data = this;
    uv_timer_start(timer_, &RingResource::OnTimer, interval_ms, interval_ms);
  }
  edge_fd_ = EdgeTriggered(map_fd_);
  if (edge_fd_ < 0) {
    int err = -edge_fd_;
    edge_fd_ = -1;
    ThrowBpfError(env_, "watch ring buffer: epoll", err);
  }
  poll_ = new uv_poll_t;
  int err = uv_poll_init(loop, poll_, edge_fd_);
  if (err != 0) {
    delete poll_;
    poll_ = nullptr;
    ThrowBpfError(env_, "poll ring buffer", err);
  }
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, &RingResource::OnReadable);
}

void RingResource::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<RingResource*>(handle->data);
  if (status < 0) return;
  ConsumeEdge(self->edge_fd_);
  self->CallJs(true);
}

// Entering JS costs several times a native timer tick (bench/README.md,
// stream table, idle rows), so an empty ring is left alone.
void RingResource::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<RingResource*>(handle->data);
  if (self->HoldsRecords()) self->CallJs(false);
}

void RingResource::CallJs(bool woken) {
  if (on_readable_.IsEmpty()) return;
  Napi::HandleScope scope(env_);
  try {
    on_readable_.MakeCallback(env_.Global(), {Napi::Boolean::New(env_, woken)});
  } catch (const Napi::Error& e) {
    // Outside any JS call: hand the exception to process 'uncaughtException'.
    napi_fatal_exception(env_, e.Value());
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
  ring_ = std::make_shared<RingResource>(env, MapFd(env, map), bpf_map__max_entries(map));
  object->Own(ring_);
  object_ = Napi::Persistent(info[0].As<Napi::Object>());
  Napi::Object self = info.This().As<Napi::Object>();
  self.Set("consumer", ring_->Consumer());
  self.Set("producer", ring_->Producer());
  self.Set("dataOffset", sysconf(_SC_PAGESIZE));
  self.Set("size", bpf_map__max_entries(map));
}

// watch(onReadable: (woken: boolean) => void, intervalMs?: number)
void RingReader::Watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ring_ || ring_->IsReleased()) ThrowUsage(env, "ring reader is closed");
  if (!info[0].IsFunction()) ThrowUsage(env, "watch needs a callback function");
  uint32_t interval_ms = 0;
  if (!info[1].IsUndefined()) {
    double interval = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    if (!(interval >= 0 && interval <= kMaxIntervalMs) || interval != static_cast<uint32_t>(interval)) {
      ThrowUsage(env, "watch interval must be a whole number of milliseconds from 0 to 3600000");
    }
    interval_ms = static_cast<uint32_t>(interval);
  }
  ring_->Watch(info[0].As<Napi::Function>(), interval_ms);
}

void RingReader::Close(const Napi::CallbackInfo&) {
  if (!ring_ || ring_->IsReleased()) return;
  ring_->Detach();
  ring_->Release();
}

}  // namespace kernscope
