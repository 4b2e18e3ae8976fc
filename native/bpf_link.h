// BpfLink: an attached program. The owning BpfObject destroys it on close;
// destroy() detaches earlier. Dropping the JS handle does not detach.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <memory>

#include "bpf_object.h"

namespace kernscope {

class LinkResource : public OwnedResource {
 public:
  explicit LinkResource(bpf_link* link) : link_(link) {}
  ~LinkResource() override { Release(); }
  void Release() override;
  bool IsReleased() const { return link_ == nullptr; }

 private:
  bpf_link* link_;
};

class BpfLink : public Napi::ObjectWrap<BpfLink> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object New(Napi::Env env, std::shared_ptr<LinkResource> link);
  explicit BpfLink(const Napi::CallbackInfo& info);

 private:
  void Destroy(const Napi::CallbackInfo& info);
  Napi::Value IsDestroyed(const Napi::CallbackInfo& info);

  std::shared_ptr<LinkResource> link_;
};

}  // namespace kernscope
