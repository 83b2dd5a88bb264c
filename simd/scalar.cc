// Scalar twins of the SIMD kernels: the executable definition each Highway kernel is tested against.
#include <cmath>

#include "simd/attention_bf16.h"  // RoundToBF16
#include "simd/kernels.h"

namespace glmv::simd::scalar {

void MatMulF32(const float* w, size_t in, const float* bias, size_t row_begin, size_t row_end,
               const float* x, size_t n, size_t x_stride, float* y, size_t y_stride) {
  for (size_t t = 0; t < n; ++t) {
    for (size_t r = row_begin; r < row_end; ++r) {
      float acc = bias ? bias[r] : 0.0f;
      acc += Dot(w + r * in, x + t * x_stride, in);
      y[t * y_stride + r] = acc;
    }
  }
}

float Dot(const float* a, const float* b, size_t n) {
  double acc = 0.0;
  for (size_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(acc);
}

float Sum(const float* x, size_t n) {
  double acc = 0.0;
  for (size_t i = 0; i < n; ++i) acc += x[i];
  return static_cast<float>(acc);
}

void Axpy(float alpha, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void RmsNorm(const float* x, const float* weight, float eps, float* out, size_t n) {
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

void RotateHalf(float* x, const float* cos, const float* sin, size_t half) {
  for (size_t j = 0; j < half; ++j) {
    const float a = x[j], b = x[j + half];
    x[j] = a * cos[j] - b * sin[j];
    x[j + half] = b * cos[j] + a * sin[j];
  }
}

void SoftmaxInPlace(float* x, size_t n, float scale) {
  if (n == 0) return;
  if (scale != 1.0f) {
    for (size_t i = 0; i < n; ++i) x[i] *= scale;
  }
  float mx = x[0];
  for (size_t i = 1; i < n; ++i) mx = std::fmax(mx, x[i]);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (size_t i = 0; i < n; ++i) x[i] *= inv;
}

void NarrowToBF16(const float* x, size_t n, uint16_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint16_t>(RoundToBF16(x[i]));
}

void SoftmaxToBF16(float* x, size_t n, float scale, uint16_t* p) {
  SoftmaxInPlace(x, n, scale);
  NarrowToBF16(x, n, p);
}

void SiluMul(const float* gate, const float* up, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace glmv::simd::scalar

namespace glmv::simd {

namespace scalar {
void LayerNorm(const float* x, const float* weight, const float* bias, float eps, float* out, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double var = 0;
  for (size_t i = 0; i < n; ++i) var += static_cast<double>(x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(static_cast<float>(var / static_cast<double>(n)) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * inv * weight[i] + bias[i];
}
}  // namespace scalar

void GeluErfInPlace(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

}  // namespace glmv::simd
