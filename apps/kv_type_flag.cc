#include "apps/kv_type_flag.h"

#include "lib/model/model_assets.h"

namespace glmv::app {

OptionSpec KvTypeOption() {
  return {"--kv-type", "", true,
          "f32|bf16|int8  keys and values as stored: bf16 halves their memory and the time long contexts spend "
          "in attention; int8 (a scale per token and head) halves the memory again, at a small cost in accuracy "
          "(default: bf16 for a .glmv file, f32 for a model directory)"};
}

Result<KvType> ReadKvType(const Args& args, const std::string& model_path) {
  if (!args.Has("--kv-type")) return IsModelFile(model_path) ? KvType::kBF16 : KvType::kF32;
  auto type = ParseKvType(args.Get("--kv-type"));
  if (!type.ok()) return Status::Error("--kv-type: " + type.status().message());
  return *type;
}

}  // namespace glmv::app
