#include "io/dtype.h"

#include <cmath>

namespace glmv {
namespace {
struct DTypeRow {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2}, {DType::kF64, "F64", 8},
    {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4}, {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1},
};
}  // namespace

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const auto& row : kDTypes) {
    if (name == row.name) return row.type;
  }
  return std::nullopt;
}

const char* DTypeName(DType t) {
  for (const auto& row : kDTypes) {
    if (row.type == t) return row.name;
  }
  if (t == DType::kQ4G32) return "Q4G32";
  if (t == DType::kQ8G32) return "Q8G32";
  if (t == DType::kQ4NLG32) return "Q4NLG32";
  return "?";
}

size_t DTypeSize(DType t) {
  for (const auto& row : kDTypes) {
    if (row.type == t) return row.size;
  }
  return 0;
}

float F16ToF32(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
  } else if (exp == 31) {
    v = mant ? std::nanf("") : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

void WidenToF32(DType t, const uint8_t* src, size_t n, float* dst) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, src + 2 * i, 2);
        dst[i] = BF16ToF32(b);
      }
      return;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, src + 2 * i, 2);
        dst[i] = F16ToF32(b);
      }
      return;
    default:
      for (size_t i = 0; i < n; ++i) dst[i] = NAN;  // callers check IsFloat() first
  }
}

}  // namespace glmv
