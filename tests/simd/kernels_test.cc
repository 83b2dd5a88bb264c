// Every Highway kernel against its scalar twin, on every target compiled into this build that the CPU can
// run, over sizes that exercise full vectors and every tail length.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <hwy/targets.h>

#include "io/dtype.h"
#include "simd/kernels.h"
#include "tests/simd/for_each_target.h"
#include "tests/test_util.h"

namespace glmv::simd {
namespace {

using test::RandomFloats;

const size_t kSizes[] = {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 127, 257, 1000};

using test::ForEachTarget;

double MaxRelErr(const std::vector<float>& a, const std::vector<float>& b, double floor = 1.0) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]) / std::max(floor, std::fabs(double(b[i]))));
  }
  return worst;
}

TEST_CASE("targets: at least AVX2 and AVX3 are compiled in on x86") {
  const auto names = CompiledTargetNames();
  std::string all;
  for (const auto& n : names) all += n + " ";
  MESSAGE("targets usable here: " << all << "(dispatch picks " << CurrentTargetName() << ")");
  CHECK(!names.empty());
#if defined(__x86_64__)
  // Compiled-in targets, independent of this CPU: attainable minus the ones pruned in meson.build.
  CHECK((HWY_TARGETS & HWY_AVX2) != 0);
  CHECK((HWY_TARGETS & HWY_AVX3) != 0);
#endif
}

TEST_CASE("MatMulF32 matches scalar for every row/token/width shape") {
  ForEachTarget([](const std::string& target) {
    double worst = 0;
    for (size_t in : kSizes) {
      for (size_t n : {size_t{1}, size_t{2}, size_t{4}, size_t{5}, size_t{9}}) {
        const size_t out = 13;
        const auto w = RandomFloats(out * in, 1), x = RandomFloats(n * (in + 3), 2), b = RandomFloats(out, 3);
        for (bool with_bias : {false, true}) {
          std::vector<float> y(n * (out + 2), -7.0f), ref(n * (out + 2), -7.0f);
          // rows [2, 11) only: the rest must stay untouched
          MatMulF32(w.data(), in, with_bias ? b.data() : nullptr, 2, 11, x.data(), n, in + 3, y.data(), out + 2);
          scalar::MatMulF32(w.data(), in, with_bias ? b.data() : nullptr, 2, 11, x.data(), n, in + 3, ref.data(), out + 2);
          for (size_t i = 0; i < y.size(); ++i) {
            const double err = std::fabs(double(y[i]) - ref[i]) / std::sqrt(double(in));
            worst = std::max(worst, err);
          }
        }
      }
    }
    MESSAGE(target << " MatMulF32 worst error / sqrt(in): " << worst);
    CHECK(worst < 1e-6);
  });
}

TEST_CASE("Dot, Sum and Axpy match scalar") {
  ForEachTarget([](const std::string& target) {
    double worst_dot = 0, worst_axpy = 0;
    for (size_t n : kSizes) {
      const auto a = RandomFloats(n, 4), b = RandomFloats(n, 5);
      worst_dot = std::max(worst_dot, std::fabs(double(Dot(a.data(), b.data(), n)) - scalar::Dot(a.data(), b.data(), n)));
      worst_dot = std::max(worst_dot, std::fabs(double(Sum(a.data(), n)) - scalar::Sum(a.data(), n)));
      auto y = b, ref = b;
      Axpy(0.37f, a.data(), y.data(), n);
      scalar::Axpy(0.37f, a.data(), ref.data(), n);
      worst_axpy = std::max(worst_axpy, MaxRelErr(y, ref));
    }
    MESSAGE(target << " Dot worst abs error " << worst_dot << ", Axpy " << worst_axpy);
    CHECK(worst_dot < 1e-4);
    CHECK(worst_axpy < 1e-6);
  });
}

TEST_CASE("RmsNorm, RotateHalf, SoftmaxInPlace, SiluMul match scalar") {
  ForEachTarget([](const std::string& target) {
    double norm = 0, rope = 0, soft = 0, silu = 0;
    for (size_t n : kSizes) {
      const auto x = RandomFloats(n, 6), w = RandomFloats(n, 7);
      std::vector<float> y(n), ref(n);
      RmsNorm(x.data(), w.data(), 1e-5f, y.data(), n);
      scalar::RmsNorm(x.data(), w.data(), 1e-5f, ref.data(), n);
      norm = std::max(norm, MaxRelErr(y, ref));

      auto r = RandomFloats(2 * n, 8), rref = r;
      const auto c = RandomFloats(n, 9), s = RandomFloats(n, 10);
      RotateHalf(r.data(), c.data(), s.data(), n);
      scalar::RotateHalf(rref.data(), c.data(), s.data(), n);
      rope = std::max(rope, MaxRelErr(r, rref));

      auto logits = RandomFloats(n, 11);
      for (auto& v : logits) v *= 30.0f;  // wide range: the max subtraction matters
      auto lref = logits;
      SoftmaxInPlace(logits.data(), n, 0.7f);
      scalar::SoftmaxInPlace(lref.data(), n, 0.7f);
      soft = std::max(soft, MaxRelErr(logits, lref, 1e-30));

      auto g = RandomFloats(n, 12);
      for (auto& v : g) v *= 20.0f;
      const auto u = RandomFloats(n, 13);
      std::vector<float> o(n), oref(n);
      SiluMul(g.data(), u.data(), o.data(), n);
      scalar::SiluMul(g.data(), u.data(), oref.data(), n);
      silu = std::max(silu, MaxRelErr(o, oref, 1e-6));
    }
    MESSAGE(target << " worst relative errors: RmsNorm " << norm << ", RotateHalf " << rope << ", Softmax " << soft
                   << ", SiluMul " << silu);
    CHECK(norm < 1e-5);
    CHECK(rope < 1e-6);
    CHECK(soft < 1e-5);
    CHECK(silu < 1e-5);
  });
}

TEST_CASE("NarrowToBF16 rounds like the scalar twin, bit for bit; SoftmaxToBF16 is the softmax rounded") {
  ForEachTarget([](const std::string& target) {
    size_t ties = 0, soft_off = 0;
    for (size_t n : kSizes) {
      auto x = RandomFloats(n, 14);
      // Exact ties (low 16 bits 0x8000), both parities, and values that round up into the next binade.
      for (size_t i = 0; i < n; i += 3) {
        uint32_t u;
        std::memcpy(&u, &x[i], sizeof u);
        u = (u & 0xffff0000u) | (i % 2 ? 0x8000u : 0xffffu);
        std::memcpy(&x[i], &u, sizeof u);
        ties += i % 2;
      }
      std::vector<uint16_t> got(n, 1), want(n, 2);
      NarrowToBF16(x.data(), n, got.data());
      scalar::NarrowToBF16(x.data(), n, want.data());
      CHECK(got == want);
      for (size_t i = 0; i < n; ++i) {  // and the result is the nearest bf16
        const float back = BF16ToF32(got[i]);
        CHECK(std::fabs(back - x[i]) <= std::ldexp(std::fabs(x[i]), -8));
      }

      auto logits = RandomFloats(n, 15);
      for (auto& v : logits) v *= 30.0f;
      auto lref = logits;
      std::vector<uint16_t> p(n), pref(n);
      SoftmaxToBF16(logits.data(), n, 0.7f, p.data());
      scalar::SoftmaxInPlace(lref.data(), n, 0.7f);
      for (size_t i = 0; i < n; ++i) {  // within half a bf16 step (and the f32 kernels' 1e-5) of the f32 softmax
        const double err = std::fabs(BF16ToF32(p[i]) - lref[i]);
        if (err > 1.01 * std::ldexp(std::fabs(lref[i]), -8) + 1e-30) ++soft_off;
      }
    }
    MESSAGE(target << ": " << ties << " exact ties rounded; softmax weights off by more than half a bf16 step: " << soft_off);
    CHECK(ties > 0);
    CHECK(soft_off == 0);
  });
}

TEST_CASE("LayerNorm matches scalar") {
  ForEachTarget([](const std::string& target) {
    double worst = 0;
    for (size_t n : kSizes) {
      auto x = RandomFloats(n, 21);
      for (auto& v : x) v = v * 3.0f + 1.5f;  // non-zero mean
      const auto w = RandomFloats(n, 22), b = RandomFloats(n, 23);
      std::vector<float> y(n), ref(n);
      LayerNorm(x.data(), w.data(), b.data(), 1e-5f, y.data(), n);
      scalar::LayerNorm(x.data(), w.data(), b.data(), 1e-5f, ref.data(), n);
      worst = std::max(worst, MaxRelErr(y, ref));
    }
    MESSAGE(target << " LayerNorm worst relative error " << worst);
    CHECK(worst < 1e-5);
  });
}

TEST_CASE("SoftmaxInPlace sums to one and handles a single element") {
  ForEachTarget([](const std::string&) {
    std::vector<float> one = {42.0f};
    SoftmaxInPlace(one.data(), 1);
    CHECK(one[0] == doctest::Approx(1.0f));
    auto v = RandomFloats(77, 14);
    SoftmaxInPlace(v.data(), v.size());
    double sum = 0;
    for (float p : v) sum += p;
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
  });
}

}  // namespace
}  // namespace glmv::simd
