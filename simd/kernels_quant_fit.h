// The inner loop of the quantizer's scale search (quant/quantize.cc), Highway with runtime dispatch and a
// scalar twin: how well one group of weights fits each of several candidate scales.
//
// For scale d each weight w gets the grid value v nearest to w / d — an integer in [−8, 7] (Q4G32) or
// [−127, 127] (Q8G32), rounded half to even and clamped; an entry of kQ4NlValues (Q4NLG32), ties going to
// the larger value — and the fit reports
//   err = Σ (w − d·v)²,  wv = Σ w·v,  vv = Σ v²
// (the last two give the least-squares refit of the scale to those codes, d' = wv / vv). Sums are f32: they
// only rank candidates of one group; targets differ from the twin in summation order (and fused
// multiply-adds), so results agree to float rounding.
#pragma once

#include <cstddef>

#include "simd/quant_layout.h"

namespace glmv::simd {

struct GroupFit {
  float err = 0, wv = 0, vv = 0;
};

// fits[c] for the candidate scales d[c], c < n, of the group w[0, len), len ≤ kQuantGroup. A scale of 0
// maps every weight to v = 0 (err = Σ w², like the quantizer's own convention for an empty group).
void FitGroupScales(QuantKind kind, const float* w, size_t len, const float* d, size_t n, GroupFit* fits);

namespace scalar {
void FitGroupScales(QuantKind kind, const float* w, size_t len, const float* d, size_t n, GroupFit* fits);
}  // namespace scalar

}  // namespace glmv::simd
