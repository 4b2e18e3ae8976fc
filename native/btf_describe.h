// What the TypeScript decoder needs from an object's BTF: a struct's layout
// as compiled and an enum's values, so no offset or constant is written down
// twice by hand.
#pragma once

#include <bpf/btf.h>
#include <napi.h>

#include <string>

namespace kernscope {

// {name, size, members: [{name, offset, size, bitfield, kind, ...}]}: see BtfStruct in src/native/addon.ts.
Napi::Object DescribeStruct(Napi::Env env, const btf* btf, const std::string& name);
// {NAME: value} of the enum.
Napi::Object DescribeEnum(Napi::Env env, const btf* btf, const std::string& name);

}  // namespace kernscope
