#include "bpf_link.h"

#include "addon_data.h"
#include "errors.h"

namespace kernscope {

void LinkResource::Release() {
  if (link_ == nullptr) return;
  bpf_link__destroy(link_);
  link_ = nullptr;
}

Napi::Function BpfLink::Init(Napi::Env env) {
  return DefineClass(env, "BpfLink",
                     {
                         InstanceMethod("destroy", &BpfLink::Destroy),
                         InstanceAccessor("destroyed", &BpfLink::IsDestroyed, nullptr),
                     });
}

Napi::Object BpfLink::New(Napi::Env env, std::shared_ptr<LinkResource> link) {
  Napi::Object wrapper = Data(env).link_class.New({});
  Unwrap(wrapper)->link_ = std::move(link);
  return wrapper;
}

BpfLink::BpfLink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfLink>(info) {}

void BpfLink::Destroy(const Napi::CallbackInfo&) {
  if (link_) link_->Release();
}

Napi::Value BpfLink::IsDestroyed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !link_ || link_->IsReleased());
}

}  // namespace kernscope
