#include "features.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace kernscope {
namespace {

struct Verdict {
  bool ok;
  std::string reason;
};

Verdict FromErrno(const std::string& what, int err) {
  if (err < 0) err = -err;
  return {false, what + ": " + strerror(err) + " (" + (strerrorname_np(err) ?: "?") + ")"};
}

bool Exists(const char* path) { return access(path, F_OK) == 0; }

// Loads (and for tracing kinds attaches, then detaches) a two-instruction
// program, the same way a real probe would, so the verdict is the kernel's.
Verdict TryTracing(const btf* vmlinux, const char* type_name, int btf_kind, enum bpf_attach_type attach) {
  if (vmlinux == nullptr) return {false, "no kernel BTF (/sys/kernel/btf/vmlinux)"};
  __s32 id = btf__find_by_name_kind(vmlinux, type_name, btf_kind);
  if (id < 0) return {false, std::string(type_name) + " not in kernel BTF"};
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  bpf_prog_load_opts opts{};
  opts.sz = sizeof(opts);
  opts.expected_attach_type = attach;
  opts.attach_btf_id = id;
  int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "ks_probe", "GPL", insns, 2, &opts);
  if (fd < 0) return FromErrno("load refused", errno);
  int link = bpf_raw_tracepoint_open(nullptr, fd);
  int err = errno;
  close(fd);
  if (link < 0) return FromErrno("attach refused", err);
  close(link);
  return {true, ""};
}

Verdict ProgType(enum bpf_prog_type type) {
  int rc = libbpf_probe_bpf_prog_type(type, nullptr);
  if (rc == 1) return {true, ""};
  return rc == 0 ? Verdict{false, "program type not supported"} : FromErrno("probe failed", rc);
}

Napi::Object ToJs(Napi::Env env, const Verdict& v) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", v.ok);
  if (!v.ok) out.Set("reason", v.reason);
  return out;
}

}  // namespace

Napi::Value KernelFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LibbpfLog::Clear();
  btf* vmlinux = btf__load_vmlinux_btf();

  Verdict tracepoint = ProgType(BPF_PROG_TYPE_TRACEPOINT);
  if (tracepoint.ok && !Exists("/sys/kernel/tracing/events") && !Exists("/sys/kernel/debug/tracing/events")) {
    tracepoint = {false, "tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)"};
  }
  Verdict kprobe = ProgType(BPF_PROG_TYPE_KPROBE);
  if (kprobe.ok && !Exists("/sys/bus/event_source/devices/kprobe/type") &&
      !Exists("/sys/kernel/tracing/kprobe_events") && !Exists("/sys/kernel/debug/tracing/kprobe_events")) {
    kprobe = {false, "kernel has no kprobes (CONFIG_KPROBES off)"};
  }

  Napi::Object attach = Napi::Object::New(env);
  attach.Set("tracepoint", ToJs(env, tracepoint));
  attach.Set("raw_tp", ToJs(env, ProgType(BPF_PROG_TYPE_RAW_TRACEPOINT)));
  attach.Set("tp_btf",
             ToJs(env, TryTracing(vmlinux, "btf_trace_sched_switch", BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP)));
  attach.Set("fentry", ToJs(env, TryTracing(vmlinux, "do_nanosleep", BTF_KIND_FUNC, BPF_TRACE_FENTRY)));
  attach.Set("fexit", ToJs(env, TryTracing(vmlinux, "do_nanosleep", BTF_KIND_FUNC, BPF_TRACE_FEXIT)));
  attach.Set("kprobe", ToJs(env, kprobe));
  attach.Set("kretprobe", ToJs(env, kprobe));

  Napi::Object out = Napi::Object::New(env);
  out.Set("btf", vmlinux != nullptr);
  out.Set("ringbuf", libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1);
  out.Set("attach", attach);
  btf__free(vmlinux);
  LibbpfLog::Clear();
  return out;
}

}  // namespace kernscope
