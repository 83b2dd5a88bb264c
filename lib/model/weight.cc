#include "lib/model/weight.h"

#include <cstdint>

namespace glmv {

Status BindWeight(const Checkpoint& ckpt, const std::string& name, const std::vector<int64_t>& shape, Weight& w,
                  WeightStorage& storage, BindAllow allow) {
  const TensorView* t = ckpt.Find(name);
  if (!t) return Status::Error(ckpt.dir() + ": missing tensor '" + name + "' (expected shape " + ShapeString(shape) + ")");
  if (t->shape != shape) {
    return Status::Error(*t->file + ": tensor '" + name + "' has shape " + ShapeString(t->shape) + ", expected " +
                         ShapeString(shape) + " from config.json");
  }
  w.shape = shape;
  if (IsPacked(t->dtype) && allow.packed && shape.size() == 2) {
    const auto kind = PackedKind(t->dtype);
    const size_t expected = simd::QuantMatrixBytes(kind, static_cast<size_t>(shape[0]), static_cast<size_t>(shape[1]));
    if (t->bytes.size() != expected) {
      return Status::Error(*t->file + ": tensor '" + name + "' (" + DTypeName(t->dtype) + " " + ShapeString(shape) +
                           ") has " + std::to_string(t->bytes.size()) + " bytes, the layout needs " +
                           std::to_string(expected));
    }
    w.packed = t->bytes.data();
    w.dtype = t->dtype;
    storage.packed_bytes += t->bytes.size();
    return Status::Ok();
  }
  if (!IsFloat(t->dtype)) {
    return Status::Error(*t->file + ": tensor '" + name + "' has dtype " + DTypeName(t->dtype) + ", expected F32, BF16 or F16" +
                         (allow.packed ? " or a packed int4/int8 matrix" : ""));
  }
  if (t->dtype == DType::kBF16 && allow.bf16 && reinterpret_cast<uintptr_t>(t->bytes.data()) % alignof(uint16_t) == 0) {
    w.bf16 = reinterpret_cast<const uint16_t*>(t->bytes.data());
    w.dtype = DType::kBF16;
    storage.bf16_bytes += t->bytes.size();
    return Status::Ok();
  }
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

size_t PackedMatrixBytes(DType dtype, size_t rows, size_t cols) {
  return simd::QuantMatrixBytes(PackedKind(dtype), rows, cols);
}

}  // namespace glmv
