// BpfObject: one libbpf object through its life,
// open -> configure -> load -> attach / drain / read maps -> close.
// The object owns every link and ring reader made from it, so closing it (from
// JS, from the destructor or at environment teardown) leaves nothing attached.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

namespace kernscope {

// Something the object must release when it closes (a link, a ring reader).
class OwnedResource {
 public:
  virtual ~OwnedResource() = default;
  virtual void Release() = 0;
};

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

  // The BpfObject behind a JS value, or a TypeError: other wrapped objects are
  // refused by their type tag instead of being misread as one.
  static BpfObject* FromValue(Napi::Env env, const Napi::Value& value, const char* who);

  void Close();
  bpf_object* Handle(Napi::Env env) const;  // throws once closed
  bpf_map* FindMap(Napi::Env env, const Napi::Value& name) const;
  bpf_program* FindProgram(Napi::Env env, const Napi::Value& name) const;
  bool IsLoaded() const { return loaded_; }
  void Own(std::shared_ptr<OwnedResource> resource) { owned_.push_back(std::move(resource)); }

 private:
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  void SetAutoload(const Napi::CallbackInfo& info);
  void SetMaxEntries(const Napi::CallbackInfo& info);
  void SetAutocreate(const Napi::CallbackInfo& info);
  void SetConstant(const Napi::CallbackInfo& info);
  Napi::Value RecordLayout(const Napi::CallbackInfo& info);
  Napi::Value EnumValues(const Napi::CallbackInfo& info);
  void Load(const Napi::CallbackInfo& info);
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  Napi::Value Entries(const Napi::CallbackInfo& info);
  Napi::Value ProgramStats(const Napi::CallbackInfo& info);
  Napi::Value TestRun(const Napi::CallbackInfo& info);
  void FreezeMap(const Napi::CallbackInfo& info);
  void CloseFromJs(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);

  void RequireState(Napi::Env env, bool loaded, const char* op) const;

  bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  std::vector<std::shared_ptr<OwnedResource>> owned_;
};

}  // namespace kernscope
