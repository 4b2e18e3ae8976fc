#include "bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>

#include "addon_data.h"
#include "args.h"
#include "bpf_link.h"
#include "btf_describe.h"
#include "errors.h"
#include "map_io.h"

namespace kernscope {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Marks JS objects that really wrap a BpfObject.
const napi_type_tag kBpfObjectTag = {0x6b65726e73636f70ULL, 0x6270666f626a6563ULL};

}  // namespace

BpfObject* BpfObject::FromValue(Napi::Env env, const Napi::Value& value, const char* who) {
  bool tagged = false;
  if (value.IsObject()) napi_check_object_type_tag(env, value, &kBpfObjectTag, &tagged);
  if (!tagged) ThrowUsage(env, std::string(who) + " needs a BpfObject");
  return Unwrap(value.As<Napi::Object>());
}

Napi::Function BpfObject::Init(Napi::Env env) {
  return DefineClass(env, "BpfObject",
                     {
                         InstanceMethod("programs", &BpfObject::Programs),
                         InstanceMethod("maps", &BpfObject::Maps),
                         InstanceMethod("setAutoload", &BpfObject::SetAutoload),
                         InstanceMethod("setMaxEntries", &BpfObject::SetMaxEntries),
                         InstanceMethod("setAutocreate", &BpfObject::SetAutocreate),
                         InstanceMethod("setConstant", &BpfObject::SetConstant),
                         InstanceMethod("recordLayout", &BpfObject::RecordLayout),
                         InstanceMethod("enumValues", &BpfObject::EnumValues),
                         InstanceMethod("load", &BpfObject::Load),
                         InstanceMethod("attach", &BpfObject::Attach),
                         InstanceMethod("lookup", &BpfObject::Lookup),
                         InstanceMethod("entries", &BpfObject::Entries),
                         InstanceMethod("programStats", &BpfObject::ProgramStats),
                         InstanceMethod("testRun", &BpfObject::TestRun),
                         InstanceMethod("freezeMap", &BpfObject::FreezeMap),
                         InstanceMethod("close", &BpfObject::CloseFromJs),
                         InstanceAccessor("closed", &BpfObject::IsClosed, nullptr),
                     });
}

// new BpfObject(pathOrBytes: string | Uint8Array, name: string)
BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(info, 1, "object name");
  bpf_object_open_opts opts{};
  opts.sz = sizeof(opts);
  opts.object_name = name.c_str();

  LibbpfLog::Clear();
  if (info[0].IsString()) {
    std::string path = info[0].As<Napi::String>().Utf8Value();
    obj_ = bpf_object__open_file(path.c_str(), &opts);
    if (obj_ == nullptr) ThrowBpfError(env, "open " + path, errno);
  } else if (info[0].IsTypedArray()) {
    Napi::Uint8Array bytes = BytesArg(info, 0, "object bytes");
    obj_ = bpf_object__open_mem(bytes.Data(), bytes.ByteLength(), &opts);
    if (obj_ == nullptr) ThrowBpfError(env, "open " + name, errno);
  } else {
    ThrowUsage(env, "BpfObject needs a file path or a Uint8Array of ELF bytes");
  }
  napi_type_tag_object(env, info.This(), &kBpfObjectTag);
  Data(env).open_objects.insert(this);
}

BpfObject::~BpfObject() { Close(); }

void BpfObject::Close() {
  for (auto& resource : owned_) resource->Release();
  owned_.clear();
  if (obj_ != nullptr) {
    bpf_object__close(obj_);
    obj_ = nullptr;
    Data(Env()).open_objects.erase(this);
  }
}

bpf_object* BpfObject::Handle(Napi::Env env) const {
  if (obj_ == nullptr) ThrowUsage(env, "BPF object is closed");
  return obj_;
}

void BpfObject::RequireState(Napi::Env env, bool loaded, const char* op) const {
  Handle(env);
  if (loaded_ != loaded) {
    ThrowUsage(env, std::string(op) + (loaded ? " needs a loaded object: call load() first"
                                              : " must happen before load()"));
  }
}

bpf_map* BpfObject::FindMap(Napi::Env env, const Napi::Value& value) const {
  std::string name = StringValue(env, value, "map name");
  bpf_map* map = bpf_object__find_map_by_name(Handle(env), name.c_str());
  if (map == nullptr) ThrowUsage(env, "no map named '" + name + "' in this object");
  return map;
}

bpf_program* BpfObject::FindProgram(Napi::Env env, const Napi::Value& value) const {
  std::string name = StringValue(env, value, "program name");
  bpf_program* prog = bpf_object__find_program_by_name(Handle(env), name.c_str());
  if (prog == nullptr) ThrowUsage(env, "no program named '" + name + "' in this object");
  return prog;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  bpf_program* prog;
  uint32_t i = 0;
  bpf_object__for_each_program(prog, Handle(env)) {
    Napi::Object p = Napi::Object::New(env);
    const char* type = libbpf_bpf_prog_type_str(bpf_program__type(prog));
    p.Set("name", bpf_program__name(prog));
    p.Set("section", bpf_program__section_name(prog));
    p.Set("type", type != nullptr ? type : "unknown");
    p.Set("autoload", bpf_program__autoload(prog));
    out.Set(i++, p);
  }
  return out;
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  bpf_map* map;
  uint32_t i = 0;
  bpf_object__for_each_map(map, Handle(env)) {
    Napi::Object m = Napi::Object::New(env);
    const char* type = libbpf_bpf_map_type_str(bpf_map__type(map));
    m.Set("name", bpf_map__name(map));
    m.Set("type", type != nullptr ? type : "unknown");
    m.Set("keySize", bpf_map__key_size(map));
    m.Set("valueSize", bpf_map__value_size(map));
    m.Set("maxEntries", bpf_map__max_entries(map));
    m.Set("autocreate", bpf_map__autocreate(map));
    out.Set(i++, m);
  }
  return out;
}

void BpfObject::SetAutoload(const Napi::CallbackInfo& info) {
  RequireState(info.Env(), false, "setAutoload");
  bpf_program* prog = FindProgram(info.Env(), info[0]);
  if (!info[1].IsBoolean()) ThrowUsage(info.Env(), "autoload must be a boolean");
  bpf_program__set_autoload(prog, info[1].As<Napi::Boolean>().Value());
}

void BpfObject::SetMaxEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, false, "setMaxEntries");
  bpf_map* map = FindMap(env, info[0]);
  // Uint32Value() would wrap 2^40 to 0 and -1 to 2^32 - 1: refuse what is not a u32 as given.
  double entries = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
  if (!info[1].IsNumber() || !(entries >= 1 && entries <= UINT32_MAX) ||
      entries != static_cast<__u32>(entries)) {
    ThrowUsage(env, "max entries must be an integer from 1 to 4294967295");
  }
  int err = bpf_map__set_max_entries(map, static_cast<__u32>(entries));
  if (err != 0) ThrowBpfError(env, std::string("set max entries of ") + bpf_map__name(map), err);
}

// setAutocreate(map, create): a map only some programs use can be left
// uncreated, so a kernel without its map type can still load the others.
void BpfObject::SetAutocreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, false, "setAutocreate");
  bpf_map* map = FindMap(env, info[0]);
  if (!info[1].IsBoolean()) ThrowUsage(env, "autocreate must be a boolean");
  int err = bpf_map__set_autocreate(map, info[1].As<Napi::Boolean>().Value());
  if (err != 0) ThrowBpfError(env, std::string("set autocreate of ") + bpf_map__name(map), err);
}

// setConstant(name, bytes): writes a `const volatile` global in .rodata,
// located through the object's BTF so no offsets are kept by hand.
void BpfObject::SetConstant(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, false, "setConstant");
  std::string name = StringArg(info, 0, "constant name");
  Napi::Uint8Array bytes = BytesArg(info, 1, "constant value");

  const btf* btf = bpf_object__btf(obj_);
  __s32 sec_id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
  bpf_map* rodata = nullptr;
  bpf_map* map;
  bpf_object__for_each_map(map, obj_) {
    if (bpf_map__is_internal(map) && EndsWith(bpf_map__name(map), ".rodata")) rodata = map;
  }
  if (sec_id < 0 || rodata == nullptr) ThrowUsage(env, "object has no load-time constants (.rodata)");

  const btf_type* sec = btf__type_by_id(btf, sec_id);
  const btf_var_secinfo* var = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++, var++) {
    const btf_type* var_type = btf__type_by_id(btf, var->type);
    if (name != btf__name_by_offset(btf, var_type->name_off)) continue;
    if (bytes.ByteLength() != var->size) {
      ThrowUsage(env, "constant '" + name + "' is " + std::to_string(var->size) + " bytes, got " +
                          std::to_string(bytes.ByteLength()));
    }
    size_t size = 0;
    const void* initial = bpf_map__initial_value(rodata, &size);
    std::vector<uint8_t> image(static_cast<const uint8_t*>(initial),
                               static_cast<const uint8_t*>(initial) + size);
    std::memcpy(image.data() + var->offset, bytes.Data(), var->size);
    int err = bpf_map__set_initial_value(rodata, image.data(), image.size());
    if (err != 0) ThrowBpfError(env, "set constant " + name, err);
    return;
  }
  ThrowUsage(env, "no load-time constant named '" + name + "' in this object");
}

// recordLayout(structName): the struct as compiled, from the object's BTF.
Napi::Value BpfObject::RecordLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(info, 0, "struct name");
  return DescribeStruct(env, bpf_object__btf(Handle(env)), name);
}

// enumValues(enumName): {NAME: value} of an enum in the object's BTF.
Napi::Value BpfObject::EnumValues(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(info, 0, "enum name");
  return DescribeEnum(env, bpf_object__btf(Handle(env)), name);
}

void BpfObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, false, "load");
  LibbpfLog::Clear();
  int err = bpf_object__load(obj_);
  if (err != 0) ThrowBpfError(env, std::string("load ") + bpf_object__name(obj_), err);
  loaded_ = true;
}

// attach(program, kind, target?): kind is one of tracepoint ("category/name"),
// raw_tp (tracepoint name), kprobe/kretprobe (function), or tp_btf / fentry /
// fexit (target fixed by the program's section at load).
Napi::Value BpfObject::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, true, "attach");
  bpf_program* prog = FindProgram(env, info[0]);
  std::string kind = StringArg(info, 1, "attach kind");
  std::string target = info[2].IsUndefined() ? "" : StringValue(env, info[2], "attach target");
  std::string op = std::string("attach ") + bpf_program__name(prog) + " as " + kind;
  if (!target.empty()) op += " " + target;
  if (bpf_program__fd(prog) < 0) ThrowUsage(env, op + ": program was not loaded (autoload off)");

  bool needs_target = kind == "tracepoint" || kind == "raw_tp" || kind == "kprobe" || kind == "kretprobe";
  if (needs_target && target.empty()) ThrowUsage(env, op + ": needs a target");

  LibbpfLog::Clear();
  bpf_link* link = nullptr;
  if (kind == "tracepoint") {
    size_t slash = target.find('/');
    if (slash == std::string::npos) ThrowUsage(env, op + ": target must be 'category/name'");
    link = bpf_program__attach_tracepoint(prog, target.substr(0, slash).c_str(),
                                          target.substr(slash + 1).c_str());
  } else if (kind == "raw_tp") {
    link = bpf_program__attach_raw_tracepoint(prog, target.c_str());
  } else if (kind == "kprobe" || kind == "kretprobe") {
    link = bpf_program__attach_kprobe(prog, kind == "kretprobe", target.c_str());
  } else if (kind == "tp_btf" || kind == "fentry" || kind == "fexit") {
    link = bpf_program__attach_trace(prog);
  } else {
    ThrowUsage(env,
               op + ": unknown attach kind (tracepoint, raw_tp, tp_btf, kprobe, kretprobe, fentry, fexit)");
  }
  if (link == nullptr) ThrowBpfError(env, op, errno);
  auto resource = std::make_shared<LinkResource>(link);
  Own(resource);
  return BpfLink::New(env, resource);
}

// lookup(map, key): the value bytes, or null when the key is absent.
Napi::Value BpfObject::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, true, "lookup");
  bpf_map* map = FindMap(env, info[0]);
  Napi::Uint8Array key = BytesArg(info, 1, "key");
  return LookupValue(env, map, key);
}

// entries(map): every key and value, packed.
Napi::Value BpfObject::Entries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, true, "entries");
  return ReadEntries(env, FindMap(env, info[0]));
}

// programStats(): run count and run time of each loaded program (run time is
// only counted while run-time stats are enabled: enableRunTimeStats()), and
// its recursion misses: runs the kernel skipped because the program was
// already running on that CPU (events lost, to be counted).
Napi::Value BpfObject::ProgramStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, true, "programStats");
  Napi::Array out = Napi::Array::New(env);
  bpf_program* prog;
  uint32_t i = 0;
  bpf_object__for_each_program(prog, obj_) {
    int fd = bpf_program__fd(prog);
    if (fd < 0) continue;
    bpf_prog_info prog_info{};
    __u32 len = sizeof(prog_info);
    if (bpf_obj_get_info_by_fd(fd, &prog_info, &len) != 0) {
      ThrowBpfError(env, std::string("read stats of ") + bpf_program__name(prog), errno);
    }
    Napi::Object s = Napi::Object::New(env);
    s.Set("name", bpf_program__name(prog));
    s.Set("id", prog_info.id);
    s.Set("runCount", static_cast<double>(prog_info.run_cnt));
    s.Set("runTimeNs", static_cast<double>(prog_info.run_time_ns));
    s.Set("recursionMisses", static_cast<double>(prog_info.recursion_misses));
    out.Set(i++, s);
  }
  return out;
}

// testRun(program, args: number[]): runs a raw_tp program once through
// BPF_PROG_TEST_RUN with the given context arguments; returns its r0.
Napi::Value BpfObject::TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, true, "testRun");
  bpf_program* prog = FindProgram(env, info[0]);
  std::vector<__u64> ctx = ContextWordsArg(info, 1);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.ctx_in = ctx.data();
  opts.ctx_size_in = ctx.size() * sizeof(__u64);
  LibbpfLog::Clear();
  if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts) != 0) {
    // EINVAL mostly means the program reads more arguments than were given.
    ThrowBpfError(env, std::string("test run ") + bpf_program__name(prog), errno,
                  std::to_string(ctx.size()) + " context arguments given");
  }
  return Napi::Number::New(env, opts.retval);
}

// freezeMap(map): makes the map read-only from user space (BPF_MAP_FREEZE);
// the object's programs still write it.
void BpfObject::FreezeMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, true, "freezeMap");
  Freeze(env, FindMap(env, info[0]));
}

void BpfObject::CloseFromJs(const Napi::CallbackInfo&) { Close(); }

Napi::Value BpfObject::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), obj_ == nullptr);
}

}  // namespace kernscope
