// MatMulBF16 on every Highway target compiled into this build that the CPU can run, against its scalar twin
// (f64 sums), over widths that are and are not multiples of every vector length, row ranges that leave
// partial row blocks, and token counts around the kernel's token block of 4.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "simd/kernels.h"
#include "simd/kernels_bf16.h"
#include "tests/simd/for_each_target.h"
#include "tests/test_util.h"

namespace glmv::simd {
namespace {

using test::ForEachTarget;
using test::RandomFloats;

// f32 → bf16 bits, round to nearest even (as PyTorch converts).
uint16_t ToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

float FromBf16(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TEST_CASE("MatMulBF16: every target against the scalar twin for every width, row range and token count") {
  // Tolerance: the kernels widen bf16 exactly and differ from the f64 twin only by f32 rounding of the
  // sums, at most (in / lanes + log2 lanes + 2) · 2^-24 · (|bias| + Σ|w·x|), below 1e-5 of that for every
  // width here even on the 4-lane EMU128 target (in ≤ 1000). |bias| + Σ|w·x| is the natural scale: a sum
  // of cancelling terms has no relative accuracy of its own.
  constexpr double kTolerance = 1e-5;
  const size_t kWidths[] = {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 257, 1000};
  const size_t out = 13, y_stride = out + 2;
  double worst = 0;
  std::string worst_at;
  for (size_t in : kWidths) {
    const auto wf = RandomFloats(out * in, static_cast<uint32_t>(in + 11));
    std::vector<uint16_t> w(wf.size());
    std::transform(wf.begin(), wf.end(), w.begin(), ToBf16);
    const auto b = RandomFloats(out, 3);
    for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{9}}) {
      const size_t x_stride = in + 3;
      const auto x = RandomFloats(n * x_stride, static_cast<uint32_t>(n * 7 + in));
      for (bool with_bias : {false, true}) {
        const float* bias = with_bias ? b.data() : nullptr;
        // Rows [2, 11) only (a block of four, another, and one left over): the rest must stay untouched.
        std::vector<float> ref(n * y_stride, -7.0f);
        scalar::MatMulBF16(w.data(), in, bias, 2, 11, x.data(), n, x_stride, ref.data(), y_stride);
        ForEachTarget([&](const std::string& target) {
          CAPTURE(target);
          CAPTURE(in);
          CAPTURE(n);
          std::vector<float> got(n * y_stride, -7.0f);
          MatMulBF16(w.data(), in, bias, 2, 11, x.data(), n, x_stride, got.data(), y_stride);
          for (size_t t = 0; t < n; ++t) {
            for (size_t r = 0; r < y_stride; ++r) {
              const float g = got[t * y_stride + r], e = ref[t * y_stride + r];
              if (r < 2 || r >= 11) {
                REQUIRE(g == -7.0f);
                continue;
              }
              double scale = 1e-30 + (bias ? std::fabs(bias[r]) : 0.0);
              for (size_t k = 0; k < in; ++k) scale += std::fabs(double(FromBf16(w[r * in + k])) * x[t * x_stride + k]);
              const double err = std::fabs(double(g) - e) / scale;
              if (err > worst) worst = err, worst_at = target + " in=" + std::to_string(in) + " n=" + std::to_string(n);
              CHECK(err <= kTolerance);
            }
          }
        });
      }
    }
  }
  std::printf("MatMulBF16: worst |target - scalar| / (|bias| + sum|w*x|) = %.3g (%s), tolerance %.0e; dispatch here: %s\n", worst,
              worst_at.c_str(), kTolerance, CurrentTargetName().c_str());
}

TEST_CASE("MatMulBF16: the scalar twin is the definition (exact on small integers)") {
  // Weights and activations that are small integers make every product and sum exact in f32 and bf16.
  const size_t in = 37, out = 5;
  std::vector<uint16_t> w(out * in);
  std::vector<float> x(2 * in), y(2 * out), expect(2 * out, 0.0f);
  for (size_t i = 0; i < w.size(); ++i) w[i] = ToBf16(static_cast<float>(static_cast<int>(i % 7) - 3));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i % 5) - 2);
  for (size_t t = 0; t < 2; ++t) {
    for (size_t r = 0; r < out; ++r) {
      for (size_t k = 0; k < in; ++k) expect[t * out + r] += FromBf16(w[r * in + k]) * x[t * in + k];
    }
  }
  ForEachTarget([&](const std::string& target) {
    CAPTURE(target);
    std::fill(y.begin(), y.end(), 0.0f);
    MatMulBF16(w.data(), in, nullptr, 0, out, x.data(), 2, in, y.data(), out);
    CHECK(y == expect);
  });
}

}  // namespace
}  // namespace glmv::simd
