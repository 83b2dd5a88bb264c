// Kernels over packed int4 / int8 weights (layout: simd/quant_layout.h), Highway with runtime dispatch,
// each with a scalar twin in namespace scalar.
//
// Activations are quantized on the fly to int8 per group of 32 (x ≈ act_scale · q, q in [−127, 127]), so
// each weight group is an exact integer dot product — the u8×i8 four-way dot of AVX-512 VNNI where the CPU
// has it, an exact widening emulation elsewhere — scaled once per group in f32:
//
//   y[t, r] = bias[r] + Σ_g  w_scale[r, g] · act_scale[t, g] · (Σ_i u[r, 32g+i] · q[t, 32g+i] − zp · Σ_i q[t, 32g+i])
//
// Integer parts are exact on every target; targets differ only in whether the final f32 multiply-add is
// fused, so results agree to float rounding.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simd/quant_layout.h"

namespace glmv::simd {

// n tokens of quantized activations for a width of `cols` (G = QuantGroups(cols) groups per token):
// q [n, 32·G] (padding inputs zero), scale [n, G], sum [n, G] (Σ of each group's q).
struct QuantizedActs {
  const int8_t* q = nullptr;
  const float* scale = nullptr;
  const int32_t* sum = nullptr;
  size_t groups = 0;
};

// Quantizes rows x[t · x_stride + i] (t < n, i < cols) into q/scale/sum sized as above:
// scale = max|x| / 127 over the group, q = round-half-even(x · 127 / max|x|) (0 for an all-zero group).
void QuantizeActs(const float* x, size_t n, size_t cols, size_t x_stride, int8_t* q, float* scale, int32_t* sum);

// y[t · y_stride + r] for tokens t < n and the rows of tiles [tile_begin, tile_end) that are < rows:
// packed W [rows, cols] against quantized activations, plus bias[r] when bias is not null.
void MatMulQuant(QuantKind kind, const uint8_t* w, size_t rows, size_t cols, size_t tile_begin, size_t tile_end,
                 const QuantizedActs& acts, size_t n, const float* bias, float* y, size_t y_stride);

// Name of the target the quantized kernels dispatch to ("AVX3_DL" uses VNNI dot products).
const char* QuantTargetName();

namespace scalar {
void QuantizeActs(const float* x, size_t n, size_t cols, size_t x_stride, int8_t* q, float* scale, int32_t* sum);
void MatMulQuant(QuantKind kind, const uint8_t* w, size_t rows, size_t cols, size_t tile_begin, size_t tile_end,
                 const QuantizedActs& acts, size_t n, const float* bias, float* y, size_t y_stride);
}  // namespace scalar

}  // namespace glmv::simd
