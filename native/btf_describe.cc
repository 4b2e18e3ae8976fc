#include "btf_describe.h"

#include "errors.h"

namespace kernscope {
namespace {

// One member of a record struct as the TypeScript decoder needs it.
Napi::Object DescribeType(Napi::Env env, const btf* btf, __u32 type_id) {
  Napi::Object out = Napi::Object::New(env);
  __s32 resolved = btf__resolve_type(btf, type_id);
  const btf_type* t = btf__type_by_id(btf, resolved);
  out.Set("size", static_cast<double>(btf__resolve_size(btf, type_id)));
  switch (btf_kind(t)) {
    case BTF_KIND_INT:
      out.Set("kind", "int");
      out.Set("signed", (btf_int_encoding(t) & BTF_INT_SIGNED) != 0);
      break;
    case BTF_KIND_ENUM:
      out.Set("kind", "int");
      out.Set("signed", false);
      break;
    case BTF_KIND_ARRAY: {
      const struct btf_array* array = btf_array(t);
      out.Set("kind", "array");
      out.Set("count", array->nelems);
      out.Set("element", DescribeType(env, btf, array->type));
      break;
    }
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
      out.Set("kind", "struct");
      out.Set("typeName", btf__name_by_offset(btf, t->name_off));
      break;
    default:
      out.Set("kind", "other");
  }
  return out;
}

}  // namespace

Napi::Object DescribeStruct(Napi::Env env, const btf* btf, const std::string& name) {
  __s32 id = btf ? btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_STRUCT) : -1;
  if (id < 0) ThrowUsage(env, "no struct '" + name + "' in the object's BTF (is it exported?)");

  const btf_type* t = btf__type_by_id(btf, id);
  Napi::Array members = Napi::Array::New(env);
  const btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); i++, m++) {
    Napi::Object member = DescribeType(env, btf, m->type);
    member.Set("name", btf__name_by_offset(btf, m->name_off));
    member.Set("offset", btf_member_bit_offset(t, i) / 8);
    member.Set("bitfield", btf_member_bitfield_size(t, i) != 0 || btf_member_bit_offset(t, i) % 8 != 0);
    members.Set(i, member);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", name);
  out.Set("size", t->size);
  out.Set("members", members);
  return out;
}

Napi::Object DescribeEnum(Napi::Env env, const btf* btf, const std::string& name) {
  __s32 id = btf ? btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_ENUM) : -1;
  if (id < 0) ThrowUsage(env, "no enum '" + name + "' in the object's BTF (is it exported?)");
  const btf_type* t = btf__type_by_id(btf, id);
  Napi::Object out = Napi::Object::New(env);
  const struct btf_enum* e = btf_enum(t);
  for (int i = 0; i < btf_vlen(t); i++, e++) out.Set(btf__name_by_offset(btf, e->name_off), e->val);
  return out;
}

}  // namespace kernscope
