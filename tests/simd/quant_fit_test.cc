// FitGroupScales (the quantizer's scale search) on every Highway target compiled into this build that the
// CPU can run, against its scalar twin: every kind, group lengths that do and do not fill a vector, scales
// that clip, a zero scale, and weights exactly on the Q4NL grid's midpoints and the uniform grid's halves
// (ties: Q4NL goes up, uniform grids round to even).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "simd/kernels_quant_fit.h"
#include "tests/simd/for_each_target.h"
#include "tests/test_util.h"

namespace glmv::simd {
namespace {

using test::ForEachTarget;
using test::RandomFloats;

TEST_CASE("FitGroupScales: every target against the scalar twin") {
  // Codes are the same on every target (the same f32 product w · (1/d), compared or rounded the same way);
  // only the order of the f32 sums differs: ≤ ~32 · 2^-24 relative to Σ of the magnitudes.
  constexpr double kTolerance = 1e-5;
  double worst = 0;
  for (QuantKind kind : {QuantKind::kQ4, QuantKind::kQ4NL, QuantKind::kQ8}) {
    const float top = kind == QuantKind::kQ8 ? 127.0f : kind == QuantKind::kQ4NL ? 127.0f : 8.0f;
    for (size_t len : {size_t{1}, size_t{3}, size_t{8}, size_t{15}, size_t{16}, size_t{17}, size_t{31}, size_t{32}}) {
      CAPTURE(len);
      std::vector<float> w = RandomFloats(len, static_cast<uint32_t>(len * 7 + static_cast<int>(kind)));
      // A few weights exactly on ties at scale 1: Q4NL midpoints (multiples of 0.5) and uniform halves.
      if (len > 4) w[1] = kind == QuantKind::kQ4NL ? 0.5f * (kQ4NlValues[3] + kQ4NlValues[4]) / top : 2.5f / top, w[3] = 0.0f;
      float amax = 0;
      for (float v : w) amax = std::max(amax, std::fabs(v));
      // Scales from clipping hard to leaving the grid half empty, 1 / top (ties exact), and 0.
      std::vector<float> d = {amax / top, amax / (0.6f * top), amax / (1.7f * top), 1.0f / top, 0.0f, -amax / top};
      std::vector<GroupFit> want(d.size());
      scalar::FitGroupScales(kind, w.data(), len, d.data(), d.size(), want.data());
      CHECK(want[4].vv == 0.0f);  // the zero scale: every value 0
      ForEachTarget([&](const std::string& target) {
        CAPTURE(target);
        std::vector<GroupFit> got(d.size());
        FitGroupScales(kind, w.data(), len, d.data(), d.size(), got.data());
        for (size_t c = 0; c < d.size(); ++c) {
          CAPTURE(c);
          double mag = 0, sq = 0;
          for (float v : w) mag += std::fabs(v) * top, sq += double(v) * v;
          const double e_err = std::fabs(got[c].err - want[c].err) / (sq + 1e-30);
          const double e_wv = std::fabs(got[c].wv - want[c].wv) / (mag + 1e-30);
          const double e_vv = std::fabs(got[c].vv - want[c].vv) / (double(len) * top * top);
          worst = std::max({worst, e_err, e_wv, e_vv});
          CHECK(e_err <= kTolerance);
          CHECK(e_wv <= kTolerance);
          CHECK(e_vv <= kTolerance);
        }
      });
    }
  }
  MESSAGE("worst relative difference from the scalar twin: " << worst << " (tolerance " << kTolerance << ")");
}

TEST_CASE("FitGroupScales: the scalar twin's codes are the nearest grid values") {
  // One weight per case at scale 1: err = (w − v)², vv = v².
  struct Case { QuantKind kind; float w, v; };
  const Case cases[] = {
      {QuantKind::kQ4, 2.5f, 2.0f},    {QuantKind::kQ4, 3.5f, 4.0f},   {QuantKind::kQ4, -9.0f, -8.0f},
      {QuantKind::kQ4, 7.6f, 7.0f},    {QuantKind::kQ8, 130.0f, 127.0f}, {QuantKind::kQ8, -0.5f, 0.0f},
      {QuantKind::kQ4NL, 0.5f * (kQ4NlValues[7] + kQ4NlValues[8]), static_cast<float>(kQ4NlValues[8])},
      {QuantKind::kQ4NL, 0.0f, 1.0f},  {QuantKind::kQ4NL, 500.0f, 106.0f}, {QuantKind::kQ4NL, -500.0f, -127.0f},
  };
  for (const Case& c : cases) {
    CAPTURE(c.w);
    const float d = 1.0f;
    GroupFit f;
    scalar::FitGroupScales(c.kind, &c.w, 1, &d, 1, &f);
    CHECK(f.vv == c.v * c.v);
    CHECK(f.err == (c.w - c.v) * (c.w - c.v));
    ForEachTarget([&](const std::string& target) {
      CAPTURE(target);
      GroupFit g;
      FitGroupScales(c.kind, &c.w, 1, &d, 1, &g);
      CHECK(g.vv == f.vv);
      CHECK(g.err == f.err);
    });
  }
}

}  // namespace
}  // namespace glmv::simd
