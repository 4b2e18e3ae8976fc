#include "capabilities.h"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "errors.h"

namespace kernscope {
namespace {

// The kernel's struct sigaction for rt_sigaction(2), the same on x86_64 and
// arm64. glibc's sigaction() refuses signals 32 and 33, which it reserves, so
// the handler is installed with the raw system call.
struct KernelSigaction {
  uintptr_t handler;  // SIG_DFL (0), SIG_IGN (1) or a function
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
constexpr unsigned long kSaRestorer = 0x04000000;
constexpr int kFirstRealTimeSignal = 32;
constexpr int kLastSignal = 64;
constexpr int kRoundTimeoutMs = 2000;
// Threads may start threads while others drop; each round signals the ones
// not seen before, until a round finds none.
constexpr int kMaxRounds = 10;
constexpr int kMaxThreads = 4096;

// Shared with the signal handler: only lock-free atomics.
std::atomic<uint64_t> keep_mask{0};
std::atomic<pid_t> process_id{0};
std::atomic<int> acks{0};
std::atomic<int> next_slot{0};
std::atomic<int> failure_errno{0};
std::atomic<pid_t> failure_tid{0};
std::atomic<const char*> failure_step{nullptr};
std::atomic<pid_t> acked[kMaxThreads];

int Sigaction(int sig, const KernelSigaction* action, KernelSigaction* old) {
  return static_cast<int>(syscall(SYS_rt_sigaction, sig, action, old, sizeof(uint64_t)));
}

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

void Fail(const char* step) {
  int expected = 0;
  if (failure_errno.compare_exchange_strong(expected, errno != 0 ? errno : EIO)) {
    failure_tid.store(Gettid());
    failure_step.store(step);
  }
}

// Runs in the thread whose sets change: raw system calls only (async-signal-safe).
void DropInThisThread() {
  const uint64_t keep = keep_mask.load();
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return Fail("capget");
  const uint64_t permitted = data[0].permitted | static_cast<uint64_t>(data[1].permitted) << 32;
  const uint64_t effective = data[0].effective | static_cast<uint64_t>(data[1].effective) << 32;
  // Shrinking the bounding set needs CAP_SETPCAP. Without it the set stays,
  // harmlessly: with no_new_privs an exec gains nothing beyond the permitted set.
  if ((effective >> CAP_SETPCAP) & 1) {
    for (int cap = 0; cap < 64; cap++) {
      if ((keep >> cap) & 1) continue;
      long held = syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0);
      if (held < 0) break;  // past the kernel's last capability
      if (held == 1 && syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return Fail("bounding set");
    }
  }
  if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return Fail("ambient set");
  const uint64_t kept = permitted & keep;
  for (int i = 0; i < 2; i++) {
    data[i].effective = data[i].permitted = static_cast<uint32_t>(kept >> (32 * i));
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &header, data) != 0) return Fail("capset");
  if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail("no_new_privs");
}

void OnSignal(int, siginfo_t* info, void*) {
  // Only the tgkill of DropCapabilities, not a stray signal from elsewhere.
  if (info->si_code != SI_TKILL || info->si_pid != process_id.load()) return;
  int saved = errno;
  DropInThisThread();
  int slot = next_slot.fetch_add(1);
  if (slot < kMaxThreads) acked[slot].store(Gettid());
  acks.fetch_add(1);
  errno = saved;
}

std::vector<pid_t> Threads() {
  std::vector<pid_t> tids;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return tids;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') tids.push_back(static_cast<pid_t>(std::stol(entry->d_name)));
  }
  closedir(dir);
  return tids;
}

constexpr int kChooseAttempts = 100;
constexpr useconds_t kChooseRetryUs = 10000;

// Signals some thread blocks (bit N-1 for signal N), from every thread's status.
uint64_t BlockedSomewhere() {
  uint64_t blocked = 0;
  for (pid_t tid : Threads()) {
    std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("SigBlk:", 0) == 0) blocked |= std::stoull(line.substr(7), nullptr, 16);
    }
  }
  return blocked;
}

// The first real-time signal no handler uses and no thread blocks. Node's
// inspector watchdog blocks every signal glibc lets it block, which leaves
// 32 (glibc's SIGCANCEL, whose handler glibc installs only once
// pthread_cancel is called, which Node never does).
// glibc's pthread_create blocks every signal in the creating thread around
// clone(), so a thread being started (libuv starts its pool on first use)
// hides 32 for a moment: look again, for up to a second.
int ChooseSignal() {
  for (int attempt = 0; attempt < kChooseAttempts; attempt++) {
    if (attempt > 0) usleep(kChooseRetryUs);
    uint64_t blocked = BlockedSomewhere();
    for (int sig = kFirstRealTimeSignal; sig <= kLastSignal; sig++) {
      if ((blocked >> (sig - 1)) & 1) continue;
      KernelSigaction current{};
      // Ignored is free too: GNU make, for one, starts its commands with 32 and 33 ignored.
      uintptr_t ignored = reinterpret_cast<uintptr_t>(SIG_IGN);
      if (Sigaction(sig, nullptr, &current) == 0 && (current.handler == 0 || current.handler == ignored))
        return sig;
    }
  }
  return -1;
}

// x86_64 returns from a handler only through a restorer (glibc's __restore_rt,
// set on every handler glibc installs): borrow it. arm64 has none and needs none.
void BorrowRestorer(KernelSigaction* action) {
  for (int sig = 1; sig <= kLastSignal; sig++) {
    KernelSigaction other{};
    if (Sigaction(sig, nullptr, &other) == 0 && (other.flags & kSaRestorer) != 0) {
      action->flags |= kSaRestorer;
      action->restorer = other.restorer;
      return;
    }
  }
}

bool Alive(pid_t tid) { return access(("/proc/self/task/" + std::to_string(tid)).c_str(), F_OK) == 0; }

void SleepMs(long ms) {
  timespec delay{0, ms * 1000000};
  nanosleep(&delay, nullptr);
}

// Signals every thread not in `done` and waits for them; returns how many
// were signalled, or sets `error` naming the threads that did not answer.
size_t Round(int sig, std::set<pid_t>& done, std::string& error) {
  std::vector<pid_t> fresh;
  for (pid_t tid : Threads()) {
    if (done.insert(tid).second) fresh.push_back(tid);
  }
  if (fresh.empty()) return 0;
  acks.store(0);
  next_slot.store(0);
  int sent = 0;
  for (pid_t tid : fresh) {
    if (syscall(SYS_tgkill, process_id.load(), tid, sig) == 0) sent++;  // ESRCH: exited
  }
  for (int waited = 0; acks.load() < sent && waited < kRoundTimeoutMs; waited++) SleepMs(1);
  if (acks.load() >= sent) return fresh.size();
  std::set<pid_t> answered;
  for (int i = 0; i < std::min(next_slot.load(), kMaxThreads); i++) answered.insert(acked[i].load());
  std::string silent;
  for (pid_t tid : fresh) {
    if (!answered.count(tid) && Alive(tid)) silent += (silent.empty() ? "" : ", ") + std::to_string(tid);
  }
  if (!silent.empty()) {  // else the silent ones exited
    error = "threads " + silent + " did not answer signal " + std::to_string(sig) + " within " +
            std::to_string(kRoundTimeoutMs) + " ms";
  }
  return fresh.size();
}

}  // namespace

Napi::Value DropCapabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBigInt()) ThrowUsage(env, "dropCapabilities needs a bigint mask");
  bool lossless = false;
  keep_mask.store(info[0].As<Napi::BigInt>().Uint64Value(&lossless));
  if (!lossless) ThrowUsage(env, "dropCapabilities: the mask must fit in 64 bits");
  process_id.store(getpid());
  failure_errno.store(0);

  int sig = ChooseSignal();
  if (sig < 0) throw Napi::Error::New(env, "every real-time signal is in use or blocked by some thread");
  KernelSigaction action{};
  action.handler = reinterpret_cast<uintptr_t>(OnSignal);
  action.flags = SA_SIGINFO | SA_RESTART;
  action.mask = ~0ULL;  // nothing interrupts the handler
  BorrowRestorer(&action);
  KernelSigaction previous{};
  if (Sigaction(sig, &action, &previous) != 0) {
    throw Napi::Error::New(env, std::string("installing the signal handler: ") + strerror(errno));
  }

  // This thread first: threads it starts from now on inherit its reduced sets.
  std::set<pid_t> done{Gettid()};
  DropInThisThread();
  size_t threads = 1;
  std::string error;
  for (int round = 0; round < kMaxRounds && error.empty() && failure_errno.load() == 0; round++) {
    size_t signalled = Round(sig, done, error);
    if (signalled == 0) break;
    threads += signalled;
    if (round == kMaxRounds - 1 && error.empty())
      error = "threads kept starting while capabilities were dropped";
  }
  // Ignoring discards a signal still pending for a late thread; then the old disposition returns.
  KernelSigaction ignore{};
  ignore.handler = reinterpret_cast<uintptr_t>(SIG_IGN);
  Sigaction(sig, &ignore, nullptr);
  Sigaction(sig, &previous, nullptr);

  if (int err = failure_errno.load()) {
    error =
        "thread " + std::to_string(failure_tid.load()) + ": " + failure_step.load() + ": " + strerror(err);
  }
  if (!error.empty()) throw Napi::Error::New(env, error);
  Napi::Object out = Napi::Object::New(env);
  out.Set("signal", sig);
  out.Set("threads", static_cast<double>(threads));
  return out;
}

}  // namespace kernscope
