// Element-wise and reduction kernels of the transformer (Highway, runtime dispatch): RMSNorm, rotary
// embedding, softmax (also into bf16 weights), SwiGLU gating, axpy, f32 → bf16 rounding. Also reports which target the dispatcher chose.
#include <cmath>
#include <cstddef>

#include "simd/attention_bf16.h"  // RoundToBF16
#include "simd/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/elementwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace glmv::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float SumImpl(const float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, x + i));
    s1 = hn::Add(s1, hn::LoadU(d, x + i + N));
    s2 = hn::Add(s2, hn::LoadU(d, x + i + 2 * N));
    s3 = hn::Add(s3, hn::LoadU(d, x + i + 3 * N));
  }
  for (; i + N <= n; i += N) s0 = hn::Add(s0, hn::LoadU(d, x + i));
  float acc = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) acc += x[i];
  return acc;
}

void AxpyImpl(float alpha, const float* HWY_RESTRICT x, float* HWY_RESTRICT y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto a = hn::Set(d, alpha);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::MulAdd(a, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  for (; i < n; ++i) y[i] += alpha * x[i];
}

void RmsNormImpl(const float* x, const float* HWY_RESTRICT weight, float eps, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = hn::LoadU(d, x + i), b = hn::LoadU(d, x + i + N);
    s0 = hn::MulAdd(a, a, s0);
    s1 = hn::MulAdd(b, b, s1);
  }
  for (; i + N <= n; i += N) {
    const auto a = hn::LoadU(d, x + i);
    s0 = hn::MulAdd(a, a, s0);
  }
  float ss = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  const auto vinv = hn::Set(d, inv);
  i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, x + i), vinv), hn::LoadU(d, weight + i)), d, out + i);
  }
  for (; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

void RotateHalfImpl(float* HWY_RESTRICT x, const float* HWY_RESTRICT cos, const float* HWY_RESTRICT sin,
                    size_t half) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t j = 0;
  for (; j + N <= half; j += N) {
    const auto a = hn::LoadU(d, x + j), b = hn::LoadU(d, x + j + half);
    const auto c = hn::LoadU(d, cos + j), s = hn::LoadU(d, sin + j);
    hn::StoreU(hn::NegMulAdd(b, s, hn::Mul(a, c)), d, x + j);
    hn::StoreU(hn::MulAdd(a, s, hn::Mul(b, c)), d, x + j + half);
  }
  for (; j < half; ++j) {
    const float a = x[j], b = x[j + half];
    x[j] = a * cos[j] - b * sin[j];
    x[j + half] = b * cos[j] + a * sin[j];
  }
}

// x ← e^(scale·x − max), returning the sum: the shared first passes of both softmax kernels.
float ExpShiftedImpl(float* HWY_RESTRICT x, size_t n, float scale) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  if (scale != 1.0f) {
    const auto vs = hn::Set(d, scale);
    for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vs), d, x + i);
    for (; i < n; ++i) x[i] *= scale;
  }
  float mx = x[0];
  i = 0;
  if (n >= N) {
    auto vmax = hn::LoadU(d, x);
    for (i = N; i + N <= n; i += N) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
    mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
  }
  for (; i < n; ++i) mx = std::fmax(mx, x[i]);
  const auto vmx = hn::Set(d, mx);
  auto vsum = hn::Zero(d);
  i = 0;
  for (; i + N <= n; i += N) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmx));
    hn::StoreU(e, d, x + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  return sum;
}

void SoftmaxInPlaceImpl(float* HWY_RESTRICT x, size_t n, float scale) {
  if (n == 0) return;
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const float inv = 1.0f / ExpShiftedImpl(x, n, scale);
  const auto vinv = hn::Set(d, inv);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vinv), d, x + i);
  for (; i < n; ++i) x[i] *= inv;
}

// f32 lanes → bf16 bits, rounded to nearest even on the bit pattern (RoundToBF16, lane by lane).
template <class DF>
HWY_INLINE void StoreRoundedBF16(DF df, hn::Vec<DF> v, uint16_t* HWY_RESTRICT out) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint16_t, DF> d16;
  const auto u = hn::BitCast(du, v);
  const auto odd = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u));
  const auto r = hn::ShiftRight<16>(hn::Add(u, hn::Add(hn::Set(du, 0x7fffu), odd)));
  hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, r)), d16, out);  // r ≤ 0xffff: no saturation
}

void NarrowToBF16Impl(const float* HWY_RESTRICT x, size_t n, uint16_t* HWY_RESTRICT out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) StoreRoundedBF16(d, hn::LoadU(d, x + i), out + i);
  for (; i < n; ++i) out[i] = static_cast<uint16_t>(RoundToBF16(x[i]));
}

void SoftmaxToBF16Impl(float* HWY_RESTRICT x, size_t n, float scale, uint16_t* HWY_RESTRICT p) {
  if (n == 0) return;
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const float inv = 1.0f / ExpShiftedImpl(x, n, scale);
  const auto vinv = hn::Set(d, inv);
  size_t i = 0;
  for (; i + N <= n; i += N) StoreRoundedBF16(d, hn::Mul(hn::LoadU(d, x + i), vinv), p + i);
  for (; i < n; ++i) p[i] = static_cast<uint16_t>(RoundToBF16(x[i] * inv));
}

void SiluMulImpl(const float* gate, const float* up, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto one = hn::Set(d, 1.0f);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto g = hn::LoadU(d, gate + i);
    const auto silu = hn::Div(g, hn::Add(one, hn::Exp(d, hn::Neg(g))));
    hn::StoreU(hn::Mul(silu, hn::LoadU(d, up + i)), d, out + i);
  }
  for (; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void LayerNormImpl(const float* x, const float* HWY_RESTRICT weight, const float* HWY_RESTRICT bias, float eps,
                   float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto vs = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) vs = hn::Add(vs, hn::LoadU(d, x + i));
  float sum = hn::GetLane(hn::SumOfLanes(d, vs));
  for (; i < n; ++i) sum += x[i];
  const float mean = sum / static_cast<float>(n);
  const auto vmean = hn::Set(d, mean);
  auto vv = hn::Zero(d);
  i = 0;
  for (; i + N <= n; i += N) {
    const auto c = hn::Sub(hn::LoadU(d, x + i), vmean);
    vv = hn::MulAdd(c, c, vv);
  }
  float var = hn::GetLane(hn::SumOfLanes(d, vv));
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  const auto vinv = hn::Set(d, inv);
  i = 0;
  for (; i + N <= n; i += N) {
    const auto c = hn::Mul(hn::Sub(hn::LoadU(d, x + i), vmean), vinv);
    hn::StoreU(hn::MulAdd(c, hn::LoadU(d, weight + i), hn::LoadU(d, bias + i)), d, out + i);
  }
  for (; i < n; ++i) out[i] = (x[i] - mean) * inv * weight[i] + bias[i];
}

int64_t TargetImpl() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace glmv::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace glmv::simd {
HWY_EXPORT(AxpyImpl);
HWY_EXPORT(SumImpl);

float Sum(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(SumImpl)(x, n); }
HWY_EXPORT(RmsNormImpl);
HWY_EXPORT(RotateHalfImpl);
HWY_EXPORT(SoftmaxInPlaceImpl);
HWY_EXPORT(NarrowToBF16Impl);
HWY_EXPORT(SoftmaxToBF16Impl);
HWY_EXPORT(SiluMulImpl);
HWY_EXPORT(TargetImpl);
HWY_EXPORT(LayerNormImpl);

void LayerNorm(const float* x, const float* weight, const float* bias, float eps, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(LayerNormImpl)(x, weight, bias, eps, out, n);
}

void Axpy(float alpha, const float* x, float* y, size_t n) { HWY_DYNAMIC_DISPATCH(AxpyImpl)(alpha, x, y, n); }
void RmsNorm(const float* x, const float* weight, float eps, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(RmsNormImpl)(x, weight, eps, out, n);
}
void RotateHalf(float* x, const float* cos, const float* sin, size_t half) {
  HWY_DYNAMIC_DISPATCH(RotateHalfImpl)(x, cos, sin, half);
}
void SoftmaxInPlace(float* x, size_t n, float scale) { HWY_DYNAMIC_DISPATCH(SoftmaxInPlaceImpl)(x, n, scale); }
void NarrowToBF16(const float* x, size_t n, uint16_t* out) { HWY_DYNAMIC_DISPATCH(NarrowToBF16Impl)(x, n, out); }
void SoftmaxToBF16(float* x, size_t n, float scale, uint16_t* p) {
  HWY_DYNAMIC_DISPATCH(SoftmaxToBF16Impl)(x, n, scale, p);
}
void SiluMul(const float* gate, const float* up, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(SiluMulImpl)(gate, up, out, n);
}

std::string CurrentTargetName() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetImpl)()); }

std::vector<std::string> CompiledTargetNames() {
  std::vector<std::string> names;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) names.emplace_back(hwy::TargetName(t));
  return names;
}
}  // namespace glmv::simd
#endif  // HWY_ONCE
