// Kernels over bf16 weights (Highway, runtime dispatch; simd/matmul_bf16.cc), each with a scalar twin in
// namespace scalar. bf16 is the checkpoint's own dtype: a bf16 weight file is used in place, with no
// quantization error, at half the bytes of f32 and twice those of int8.
//
// Weights are widened to f32 exactly (bf16 is the top half of an f32) and multiplied with f32 activations,
// so targets differ from the scalar twin only in the order of f32 additions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace glmv::simd {

// Linear layer with bf16 weights over a batch of tokens, for output rows [row_begin, row_end):
//   y[t * y_stride + r] = (bias ? bias[r] : 0) + Σ_k bf16(w[r * in + k]) · x[t * x_stride + k],  t in [0, n).
// w: row-major [out, in] bf16 bit patterns (PyTorch's Linear layout), any `in`. n = 1 is the decode
// matrix-vector product. Same contract as MatMulF32 (simd/kernels.h).
void MatMulBF16(const uint16_t* w, size_t in, const float* bias, size_t row_begin, size_t row_end, const float* x,
                size_t n, size_t x_stride, float* y, size_t y_stride);

namespace scalar {
// The definition: products and sums in f64, rounded once to f32.
void MatMulBF16(const uint16_t* w, size_t in, const float* bias, size_t row_begin, size_t row_end, const float* x,
                size_t n, size_t x_stride, float* y, size_t y_stride);
}  // namespace scalar

}  // namespace glmv::simd
