#include "lib/text_weights.h"

#include <cstdint>

#include "io/dtype.h"

namespace glmv {

Status BindWeight(const Checkpoint& ckpt, const std::string& name, const std::vector<int64_t>& shape, Weight& w,
                  WeightStorage& storage) {
  const TensorView* t = ckpt.Find(name);
  if (!t) return Status::Error(ckpt.dir() + ": missing tensor '" + name + "' (expected shape " + ShapeString(shape) + ")");
  if (t->shape != shape) {
    return Status::Error(*t->file + ": tensor '" + name + "' has shape " + ShapeString(t->shape) + ", expected " +
                         ShapeString(shape) + " from config.json");
  }
  if (!IsFloat(t->dtype)) {
    return Status::Error(*t->file + ": tensor '" + name + "' has dtype " + DTypeName(t->dtype) +
                         ", expected F32, BF16 or F16");
  }
  w.shape = shape;
  const size_t n = static_cast<size_t>(t->NumElements());
  const bool aligned = reinterpret_cast<uintptr_t>(t->bytes.data()) % alignof(float) == 0;
  if (t->dtype == DType::kF32 && aligned) {
    w.data = reinterpret_cast<const float*>(t->bytes.data());
    storage.mapped_bytes += t->bytes.size();
    return Status::Ok();
  }
  auto& buf = storage.widened.emplace_back(n);
  WidenToF32(t->dtype, t->bytes.data(), n, buf.data());
  w.data = buf.data();
  storage.widened_bytes += n * sizeof(float);
  return Status::Ok();
}

Status BindTextWeights(const TextConfig& config, const Checkpoint& ckpt, TextWeights& out, WeightStorage& storage) {
  Status status;
  ForEachTextTensor(config, out, [&](const std::string& name, const std::vector<int64_t>& shape, Weight& w) {
    if (status.ok()) status = BindWeight(ckpt, name, shape, w, storage);
  });
  if (status.ok() && config.tie_word_embeddings) out.lm_head = out.embed;
  return status;
}

}  // namespace glmv
