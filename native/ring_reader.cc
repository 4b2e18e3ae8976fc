#include "ring_reader.h"

#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

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

// An epoll set holding the ring's fd edge-triggered: it turns readable when
// the kernel wakes the ring's readers (once wakeup_bytes wait, or on a forced
// wakeup), not whenever the ring holds data. Level-triggered readiness made
// a busy ring readable on every loop turn, so under sustained load JS drained
// a few records per turn (about 10 at the maximum rate) instead of the batch
// the wakeup policy asks for. Records left behind wait for the timer drain.
constexpr double kMaxIntervalMs = 3600000;

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

// A native thread that waits for the ring's fd and calls JS. It never touches
// JS values: it only queues calls to a thread-safe function, one at a time.
class ReadinessThread {
 public:
  ReadinessThread(Napi::Env env, int ring_fd, Napi::Function on_readable);
  ~ReadinessThread() { Stop(); }
  ReadinessThread(const ReadinessThread&) = delete;
  ReadinessThread& operator=(const ReadinessThread&) = delete;

  // Wakes the thread wherever it waits, joins it and releases the function,
  // after which JS is not called any more. Idempotent.
  void Stop();

 private:
  // What the JS thread, the native thread and queued calls share. The
  // thread-safe function holds a reference as its context, dropped by its
  // finalizer, so a call still queued when the reader closes finds it alive.
  struct State {
    State(int edge, int stop) : edge_fd(edge), stop_fd(stop) {}
    ~State() { close(stop_fd); }
    const int edge_fd;  // EdgeTriggered(ring fd), owned by the RingResource
    const int stop_fd;  // eventfd, written once to stop
    std::atomic<bool> stopping{false};
    std::atomic<bool> pending{false};  // a call is queued or running: JS has not drained yet
    std::mutex mutex;
    std::condition_variable drained;
  };
  using Shared = std::shared_ptr<State>;
  static void CallJs(Napi::Env env, Napi::Function callback, Shared* state, void* unused);
  using Function = Napi::TypedThreadSafeFunction<Shared, void, &ReadinessThread::CallJs>;
  static void Run(Shared state, Function function);

  Shared state_;
  Function function_;
  std::thread thread_;
};

ReadinessThread::ReadinessThread(Napi::Env env, int edge_fd, Napi::Function on_readable) {
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) ThrowBpfError(env, "watch ring buffer: eventfd", errno);
  state_ = std::make_shared<State>(edge_fd, stop_fd);
  auto* context = new Shared(state_);
  try {
    function_ = Function::New(env, on_readable, "kernscope ring readiness", 0, 1, context,
                              [](Napi::Env, void*, Shared* shared) { delete shared; });
  } catch (...) {
    delete context;
    throw;
  }
  // Signals go to the event loop's thread, never to this one.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    thread_ = std::thread(&ReadinessThread::Run, state_, function_);
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    function_.Release();
    ThrowBpfError(env, "watch ring buffer: start thread", e.code().value());
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void ReadinessThread::Run(Shared state, Function function) {
  pthread_setname_np(pthread_self(), "ks-ring-ready");
  pollfd fds[2] = {{state->edge_fd, POLLIN, 0}, {state->stop_fd, POLLIN, 0}};
  while (!state->stopping.load()) {
    int ready = poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    // On an error the thread ends; JS still drains on its timer.
    if (ready < 0 || fds[1].revents != 0 || (fds[0].revents & POLLIN) == 0) break;
    ConsumeEdge(state->edge_fd);
    state->pending.store(true);
    if (function.NonBlockingCall() != napi_ok) break;  // the environment is closing
    // At most one call queued: wait for the callback to have run (and
    // drained) before polling again.
    std::unique_lock<std::mutex> lock(state->mutex);
    state->drained.wait(lock, [&] { return !state->pending.load() || state->stopping.load(); });
  }
}

// Runs on the JS thread. With env null the environment is going away and the
// queue is being emptied (the context may already be gone): do nothing.
void ReadinessThread::CallJs(Napi::Env env, Napi::Function callback, Shared* shared, void*) {
  if (env == nullptr || shared == nullptr) return;
  State& state = **shared;
  if (!state.stopping.load()) {
    try {
      callback.Call({Napi::Boolean::New(env, true)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());  // as the poll does: to 'uncaughtException'
    }
  }
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.pending.store(false);
  }
  state.drained.notify_one();
}

void ReadinessThread::Stop() {
  if (!thread_.joinable()) return;
  state_->stopping.store(true);
  eventfd_write(state_->stop_fd, 1);  // wakes poll()
  {
    std::lock_guard<std::mutex> lock(state_->mutex);  // no lost wakeup: see Run's wait
  }
  state_->drained.notify_one();
  thread_.join();
  function_.Release();
}

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
  if (thread_) {
    thread_->Stop();
    thread_.reset();
  }
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
  if (edge_fd_ >= 0) close(edge_fd_);  // after the thread and the poll stopped watching it
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

void RingResource::Watch(Napi::Function on_readable, Readiness readiness, uint32_t interval_ms) {
  if (poll_ != nullptr || thread_ || timer_ != nullptr) ThrowUsage(env_, "ring reader is already watched");
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
  if (readiness == Readiness::kThread) {
    thread_ = std::make_unique<ReadinessThread>(env_, edge_fd_, on_readable);
    return;
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
  ring_ = std::make_shared<RingResource>(env, BpfObject::MapFd(env, map), bpf_map__max_entries(map));
  object->Own(ring_);
  object_ = Napi::Persistent(info[0].As<Napi::Object>());
  Napi::Object self = info.This().As<Napi::Object>();
  self.Set("consumer", ring_->Consumer());
  self.Set("producer", ring_->Producer());
  self.Set("dataOffset", sysconf(_SC_PAGESIZE));
  self.Set("size", bpf_map__max_entries(map));
}

// watch(onReadable: (woken: boolean) => void, mode?: 'poll' | 'thread', intervalMs?: number)
void RingReader::Watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ring_ || ring_->IsReleased()) ThrowUsage(env, "ring reader is closed");
  if (!info[0].IsFunction()) ThrowUsage(env, "watch needs a callback function");
  Readiness readiness = Readiness::kPoll;
  if (!info[1].IsUndefined()) {
    std::string mode = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    if (mode == "thread") {
      readiness = Readiness::kThread;
    } else if (mode != "poll") {
      ThrowUsage(env, "watch mode must be 'poll' or 'thread'");
    }
  }
  uint32_t interval_ms = 0;
  if (!info[2].IsUndefined()) {
    double interval = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
    if (!(interval >= 0 && interval <= kMaxIntervalMs) || interval != static_cast<uint32_t>(interval)) {
      ThrowUsage(env, "watch interval must be a whole number of milliseconds from 0 to 3600000");
    }
    interval_ms = static_cast<uint32_t>(interval);
  }
  ring_->Watch(info[0].As<Napi::Function>(), readiness, interval_ms);
}

void RingReader::Close(const Napi::CallbackInfo&) {
  if (!ring_ || ring_->IsReleased()) return;
  ring_->Detach();
  ring_->Release();
}

}  // namespace kernscope
