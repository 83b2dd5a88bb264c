// Stateless f32 kernels over caller-given memory. Each function dispatches once, at its entry, to the best
// Highway target the CPU supports; `glmv::simd::scalar` holds the plain-C++ twin of every kernel, which the
// tests compare against on every compiled target. Kernels never allocate and never start threads: callers
// split work by row range (see lib/parallel.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glmv::simd {

// Linear layer over a batch of tokens, for output rows [row_begin, row_end):
//   y[t * y_stride + r] = (bias ? bias[r] : 0) + Σ_k w[r * in + k] · x[t * x_stride + k],  t in [0, n).
// w: row-major [out, in] (PyTorch's Linear layout). n = 1 is the decode matrix-vector product.
void MatMulF32(const float* w, size_t in, const float* bias, size_t row_begin, size_t row_end,
               const float* x, size_t n, size_t x_stride, float* y, size_t y_stride);

// Σ a[i]·b[i].
float Dot(const float* a, const float* b, size_t n);

// Σ x[i] with several accumulators: a pure streaming read (the memory-bandwidth probe of the benchmarks).
float Sum(const float* x, size_t n);

// y[i] += alpha · x[i].
void Axpy(float alpha, const float* x, float* y, size_t n);

// out[i] = x[i] / sqrt(mean(x²) + eps) · weight[i]   (RMSNorm; out may alias x).
void RmsNorm(const float* x, const float* weight, float eps, float* out, size_t n);

// Rotate-half (NeoX) rotary embedding of x[0 .. 2·half), in place:
//   x[j] ← x[j]·cos[j] − x[j+half]·sin[j],  x[j+half] ← x[j+half]·cos[j] + x[j]·sin[j].
void RotateHalf(float* x, const float* cos, const float* sin, size_t half);

// x ← softmax(scale · x), computed stably (max subtracted).
void SoftmaxInPlace(float* x, size_t n, float scale = 1.0f);

// out[i] = x[i] as bf16 bits, rounded to nearest even (bf16 activations of a bf16 GEMM). Finite inputs:
// a signalling NaN may round to infinity.
void NarrowToBF16(const float* x, size_t n, uint16_t* out);

// p[i] = bf16(softmax(scale · x)[i]): the softmax's last pass writes bf16 weights instead of x, which it
// leaves holding the unnormalised exponentials.
void SoftmaxToBF16(float* x, size_t n, float scale, uint16_t* p);

// out[i] = silu(gate[i]) · up[i], silu(z) = z / (1 + e^−z)   (SwiGLU; out may alias gate or up).
void SiluMul(const float* gate, const float* up, float* out, size_t n);

// Name of the Highway target the kernels dispatch to on this CPU (e.g. "AVX3").
std::string CurrentTargetName();
// Names of the targets compiled into this build that this CPU can run (the ones tests cover).
std::vector<std::string> CompiledTargetNames();

namespace scalar {
void MatMulF32(const float* w, size_t in, const float* bias, size_t row_begin, size_t row_end,
               const float* x, size_t n, size_t x_stride, float* y, size_t y_stride);
float Dot(const float* a, const float* b, size_t n);
float Sum(const float* x, size_t n);
void Axpy(float alpha, const float* x, float* y, size_t n);
void RmsNorm(const float* x, const float* weight, float eps, float* out, size_t n);
void RotateHalf(float* x, const float* cos, const float* sin, size_t half);
void SoftmaxInPlace(float* x, size_t n, float scale = 1.0f);
void NarrowToBF16(const float* x, size_t n, uint16_t* out);
void SoftmaxToBF16(float* x, size_t n, float scale, uint16_t* p);
void SiluMul(const float* gate, const float* up, float* out, size_t n);
}  // namespace scalar

}  // namespace glmv::simd

namespace glmv::simd {

// out[i] = (x[i] − mean) / sqrt(var + eps) · weight[i] + bias[i]   (LayerNorm over n; out may alias x).
void LayerNorm(const float* x, const float* weight, const float* bias, float eps, float* out, size_t n);

// x[i] ← 0.5·x·(1 + erf(x/√2))   (exact GELU). Scalar for now: it runs on the vision merger only, where
// the matmuls around it cost thousands of times more.
void GeluErfInPlace(float* x, size_t n);

namespace scalar {
void LayerNorm(const float* x, const float* weight, const float* bias, float eps, float* out, size_t n);
}  // namespace scalar

}  // namespace glmv::simd
