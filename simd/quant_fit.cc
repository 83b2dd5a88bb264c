// FitGroupScales (simd/kernels_quant_fit.h): Highway targets and the scalar twin.
#include <algorithm>
#include <cmath>

#include "simd/kernels_quant_fit.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/quant_fit.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace glmv::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The group is held in registers (≤ 32 floats: 2 vectors on AVX-512, 4 on AVX2), each candidate scale one
// pass over them. Q4NL's nearest grid value is a chain of compare-and-select against the 15 midpoints (all
// multiples of 0.5), which vectorises where the scalar twin's table lookup cannot.
void FitGroupScalesImpl(QuantKind kind, const float* HWY_RESTRICT w, size_t len, const float* HWY_RESTRICT d,
                        size_t n, GroupFit* HWY_RESTRICT fits) {
  const hn::ScalableTag<float> df;
  using VF = hn::Vec<decltype(df)>;
  const size_t N = hn::Lanes(df);
  constexpr size_t kMaxVecs = kQuantGroup;  // enough for the narrowest target (one lane per vector)
  VF wv_[kMaxVecs];
  const size_t vecs = (len + N - 1) / N;
  HWY_ALIGN float buf[kQuantGroup] = {};
  std::copy(w, w + len, buf);  // zero padding: a zero weight adds nothing to wv, and its v is masked below
  for (size_t k = 0; k < vecs; ++k) wv_[k] = hn::Load(df, buf + k * N);
  const bool nl = kind == QuantKind::kQ4NL;
  const float qmin = kind == QuantKind::kQ4 ? -8.0f : -127.0f, qmax = kind == QuantKind::kQ4 ? 7.0f : 127.0f;
  for (size_t c = 0; c < n; ++c) {
    const float inv = d[c] != 0.0f ? 1.0f / d[c] : 0.0f;
    const VF vinv = hn::Set(df, inv), vd = hn::Set(df, d[c]);
    VF err = hn::Zero(df), swv = hn::Zero(df), svv = hn::Zero(df);
    for (size_t k = 0; k < vecs; ++k) {
      const VF x = hn::Mul(wv_[k], vinv);
      VF v;
      if (nl) {
        v = hn::Set(df, static_cast<float>(kQ4NlValues[0]));
        for (int g = 1; g < 16; ++g) {
          const float mid = 0.5f * static_cast<float>(kQ4NlValues[g - 1] + kQ4NlValues[g]);
          v = hn::IfThenElse(hn::Ge(x, hn::Set(df, mid)), hn::Set(df, static_cast<float>(kQ4NlValues[g])), v);
        }
      } else {
        v = hn::Min(hn::Set(df, qmax), hn::Max(hn::Set(df, qmin), hn::Round(x)));
      }
      if (d[c] == 0.0f) v = hn::Zero(df);
      if ((k + 1) * N > len) v = hn::IfThenElseZero(hn::FirstN(df, len - k * N), v);  // padding lanes
      const VF e = hn::Sub(wv_[k], hn::Mul(vd, v));
      err = hn::MulAdd(e, e, err);
      swv = hn::MulAdd(wv_[k], v, swv);
      svv = hn::MulAdd(v, v, svv);
    }
    fits[c].err = hn::GetLane(hn::SumOfLanes(df, err));
    fits[c].wv = hn::GetLane(hn::SumOfLanes(df, swv));
    fits[c].vv = hn::GetLane(hn::SumOfLanes(df, svv));
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace glmv::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace glmv::simd {
HWY_EXPORT(FitGroupScalesImpl);

void FitGroupScales(QuantKind kind, const float* w, size_t len, const float* d, size_t n, GroupFit* fits) {
  HWY_DYNAMIC_DISPATCH(FitGroupScalesImpl)(kind, w, len, d, n, fits);
}

namespace scalar {

void FitGroupScales(QuantKind kind, const float* w, size_t len, const float* d, size_t n, GroupFit* fits) {
  const float qmin = kind == QuantKind::kQ4 ? -8.0f : -127.0f, qmax = kind == QuantKind::kQ4 ? 7.0f : 127.0f;
  for (size_t c = 0; c < n; ++c) {
    const float inv = d[c] != 0.0f ? 1.0f / d[c] : 0.0f;
    GroupFit f;
    for (size_t i = 0; i < len; ++i) {
      const float x = w[i] * inv;
      float v;
      if (kind == QuantKind::kQ4NL) {
        int best = 0;  // the largest grid value whose lower midpoint x reaches: ties go up
        for (int g = 1; g < 16; ++g) {
          if (x >= 0.5f * static_cast<float>(kQ4NlValues[g - 1] + kQ4NlValues[g])) best = g;
        }
        v = static_cast<float>(kQ4NlValues[best]);
      } else {
        v = std::min(qmax, std::max(qmin, std::nearbyint(x)));  // default rounding: to nearest even
      }
      if (d[c] == 0.0f) v = 0.0f;
      const float e = w[i] - d[c] * v;
      f.err += e * e, f.wv += w[i] * v, f.vv += v * v;
    }
    fits[c] = f;
  }
}

}  // namespace scalar
}  // namespace glmv::simd
#endif  // HWY_ONCE
