// Element types of tensors in files we read (safetensors names), with sizes and f32 widening.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace glmv {

enum class DType : uint8_t {
  kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool,
  // Packed weight formats of glmv model files (never in safetensors): int4 / int8 in groups of 32 inputs
  // with a 16-bit scale per group, in the kernels' tile layout (simd/quant_layout.h).
  // Q4NLG32: 4-bit codes into a fixed non-uniform grid, same packing as Q4G32.
  kQ4G32, kQ8G32, kQ4NLG32,
};

// Safetensors spelling ("F32", "BF16", ...) ↔ DType. DTypeFromName knows only the element types.
std::optional<DType> DTypeFromName(std::string_view name);
const char* DTypeName(DType t);
// Bytes per element; 0 for the packed formats, whose size depends on the whole shape.
size_t DTypeSize(DType t);
inline bool IsPacked(DType t) { return t == DType::kQ4G32 || t == DType::kQ8G32 || t == DType::kQ4NLG32; }
inline bool IsFloat(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

inline float BF16ToF32(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// f32 → bf16 bits, rounded to nearest even; NaN stays NaN (quiet), infinities and overflow become ±inf.
inline uint16_t F32ToBF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float F16ToF32(uint16_t bits);

// Widens n elements of float dtype `t` (F32, F16 or BF16) at unaligned `src` to f32.
void WidenToF32(DType t, const uint8_t* src, size_t n, float* dst);

}  // namespace glmv
