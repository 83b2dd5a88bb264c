// f32 weight × f32 activation products (Highway, runtime dispatch). The f32 path serves Hugging Face
// directories as they are; quantized formats get their own translation units.
#include <cstddef>

#include "simd/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/matmul_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace glmv::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Σ a·b with four independent accumulators (hides FMA latency); scalar tail.
float DotImpl(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), s1);
    s2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * N), hn::LoadU(d, b + i + 2 * N), s2);
    s3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * N), hn::LoadU(d, b + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  float acc = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// Four weight rows against one token: x is loaded once per step for four rows (decode shape).
void FourRowsOneToken(const float* HWY_RESTRICT w, size_t in, const float* HWY_RESTRICT x,
                      float* HWY_RESTRICT out4) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const float* w0 = w;
  const float* w1 = w + in;
  const float* w2 = w + 2 * in;
  const float* w3 = w + 3 * in;
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t k = 0;
  for (; k + N <= in; k += N) {
    const auto xv = hn::LoadU(d, x + k);
    s0 = hn::MulAdd(hn::LoadU(d, w0 + k), xv, s0);
    s1 = hn::MulAdd(hn::LoadU(d, w1 + k), xv, s1);
    s2 = hn::MulAdd(hn::LoadU(d, w2 + k), xv, s2);
    s3 = hn::MulAdd(hn::LoadU(d, w3 + k), xv, s3);
  }
  float r0 = hn::GetLane(hn::SumOfLanes(d, s0)), r1 = hn::GetLane(hn::SumOfLanes(d, s1));
  float r2 = hn::GetLane(hn::SumOfLanes(d, s2)), r3 = hn::GetLane(hn::SumOfLanes(d, s3));
  for (; k < in; ++k) {
    r0 += w0[k] * x[k];
    r1 += w1[k] * x[k];
    r2 += w2[k] * x[k];
    r3 += w3[k] * x[k];
  }
  out4[0] = r0, out4[1] = r1, out4[2] = r2, out4[3] = r3;
}

// One weight row against four tokens: the row is loaded once per step for four tokens (prefill shape).
void OneRowFourTokens(const float* HWY_RESTRICT w, size_t in, const float* HWY_RESTRICT x,
                      size_t x_stride, float* HWY_RESTRICT out4) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const float* x0 = x;
  const float* x1 = x + x_stride;
  const float* x2 = x + 2 * x_stride;
  const float* x3 = x + 3 * x_stride;
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t k = 0;
  for (; k + N <= in; k += N) {
    const auto wv = hn::LoadU(d, w + k);
    s0 = hn::MulAdd(wv, hn::LoadU(d, x0 + k), s0);
    s1 = hn::MulAdd(wv, hn::LoadU(d, x1 + k), s1);
    s2 = hn::MulAdd(wv, hn::LoadU(d, x2 + k), s2);
    s3 = hn::MulAdd(wv, hn::LoadU(d, x3 + k), s3);
  }
  float r0 = hn::GetLane(hn::SumOfLanes(d, s0)), r1 = hn::GetLane(hn::SumOfLanes(d, s1));
  float r2 = hn::GetLane(hn::SumOfLanes(d, s2)), r3 = hn::GetLane(hn::SumOfLanes(d, s3));
  for (; k < in; ++k) {
    r0 += w[k] * x0[k];
    r1 += w[k] * x1[k];
    r2 += w[k] * x2[k];
    r3 += w[k] * x3[k];
  }
  out4[0] = r0, out4[1] = r1, out4[2] = r2, out4[3] = r3;
}

void MatMulF32Impl(const float* HWY_RESTRICT w, size_t in, const float* HWY_RESTRICT bias,
                   size_t row_begin, size_t row_end, const float* HWY_RESTRICT x, size_t n,
                   size_t x_stride, float* HWY_RESTRICT y, size_t y_stride) {
  float out4[4];
  if (n == 1) {
    size_t r = row_begin;
    for (; r + 4 <= row_end; r += 4) {
      FourRowsOneToken(w + r * in, in, x, out4);
      for (size_t i = 0; i < 4; ++i) y[r + i] = out4[i] + (bias ? bias[r + i] : 0.0f);
    }
    for (; r < row_end; ++r) y[r] = DotImpl(w + r * in, x, in) + (bias ? bias[r] : 0.0f);
    return;
  }
  for (size_t r = row_begin; r < row_end; ++r) {
    const float* wr = w + r * in;
    const float b = bias ? bias[r] : 0.0f;
    size_t t = 0;
    for (; t + 4 <= n; t += 4) {
      OneRowFourTokens(wr, in, x + t * x_stride, x_stride, out4);
      for (size_t i = 0; i < 4; ++i) y[(t + i) * y_stride + r] = out4[i] + b;
    }
    for (; t < n; ++t) y[t * y_stride + r] = DotImpl(wr, x + t * x_stride, in) + b;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace glmv::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace glmv::simd {
HWY_EXPORT(MatMulF32Impl);
HWY_EXPORT(DotImpl);

void MatMulF32(const float* w, size_t in, const float* bias, size_t row_begin, size_t row_end,
               const float* x, size_t n, size_t x_stride, float* y, size_t y_stride) {
  HWY_DYNAMIC_DISPATCH(MatMulF32Impl)(w, in, bias, row_begin, row_end, x, n, x_stride, y, y_stride);
}

float Dot(const float* a, const float* b, size_t n) { return HWY_DYNAMIC_DISPATCH(DotImpl)(a, b, n); }
}  // namespace glmv::simd
#endif  // HWY_ONCE
