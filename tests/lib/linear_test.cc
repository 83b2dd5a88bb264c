// Linear on packed weights under both activation precisions (lib/linear.h): against double-precision
// products of the dequantized weights with the unquantized activations, int8x2 must be far closer than
// int8, for one token (decode) and batches, with and without bias, at widths that are not multiples of 32.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "lib/model/linear.h"
#include "quant/quantize.h"
#include "simd/quant_layout.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

// Worst |y − exact| over all outputs, relative to the largest |exact|.
double RelativeError(const Weight& w, const std::vector<float>& bias, const std::vector<float>& x, size_t n,
                     ActQuant quant) {
  const size_t rows = static_cast<size_t>(w.rows()), cols = static_cast<size_t>(w.cols());
  Weight b;
  b.data = bias.data();
  b.shape = {static_cast<int64_t>(rows)};
  std::vector<float> y(n * rows, -1.0f);
  LinearContext cx;
  Linear(cx, w, bias.empty() ? nullptr : &b, x.data(), n, y.data(), ActRows{.all = quant});
  std::vector<float> row(cols);
  double worst = 0, scale = 0;
  for (size_t r = 0; r < rows; ++r) {
    simd::DequantizeRow(PackedKind(w.dtype), w.packed, cols, r, row.data());
    for (size_t t = 0; t < n; ++t) {
      double exact = bias.empty() ? 0.0 : bias[r];
      for (size_t i = 0; i < cols; ++i) exact += static_cast<double>(row[i]) * x[t * cols + i];
      worst = std::max(worst, std::fabs(y[t * rows + r] - exact));
      scale = std::max(scale, std::fabs(exact));
    }
  }
  return worst / scale;
}

TEST_CASE("int8x2 activations: an order of magnitude closer to exact than int8, same results otherwise") {
  const std::pair<simd::QuantKind, DType> kinds[] = {{simd::QuantKind::kQ8, DType::kQ8G32},
                                                     {simd::QuantKind::kQ4NL, DType::kQ4NLG32},
                                                     {simd::QuantKind::kQ4, DType::kQ4G32}};
  for (const auto& [kind, dtype] : kinds) {
    for (size_t cols : {48, 200}) {
      const size_t rows = 37;
      const auto wf = test::RandomFloats(rows * cols, static_cast<uint32_t>(cols));
      std::vector<uint8_t> packed(simd::QuantMatrixBytes(kind, rows, cols));
      quant::QuantizeMatrix(kind, quant::QuantScheme::kSearch, wf.data(), rows, cols, packed.data());
      Weight w;
      w.packed = packed.data();
      w.dtype = dtype;
      w.shape = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
      for (size_t n : {1, 3, 9}) {
        for (bool with_bias : {false, true}) {
          CAPTURE(static_cast<int>(kind));
          CAPTURE(cols);
          CAPTURE(n);
          CAPTURE(with_bias);
          const auto x = test::RandomFloats(n * cols, static_cast<uint32_t>(100 + n));
          const auto bias = with_bias ? test::RandomFloats(rows, 7) : std::vector<float>();
          const double once = RelativeError(w, bias, x, n, ActQuant::kOnce);
          const double twice = RelativeError(w, bias, x, n, ActQuant::kTwice);
          MESSAGE("relative error: int8 " << once << ", int8x2 " << twice);
          CHECK(once > 1e-4);          // int8 activations: ~1e-3
          CHECK(twice < once / 20.0);  // the residual's 8 more bits
          CHECK(twice < 5e-5);
        }
      }
    }
  }
}

TEST_CASE("rows of one call quantized once or twice each get what they get alone; auto is twice for decode rows") {
  const size_t rows = 21, cols = 64;
  const auto wf = test::RandomFloats(rows * cols, 3);
  std::vector<uint8_t> packed(simd::QuantMatrixBytes(simd::QuantKind::kQ8, rows, cols));
  quant::QuantizeMatrix(simd::QuantKind::kQ8, quant::QuantScheme::kSearch, wf.data(), rows, cols, packed.data());
  Weight w;
  w.packed = packed.data();
  w.dtype = DType::kQ8G32;
  w.shape = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  // Rows of one call, some once and some twice: each row's result is exactly what it gets alone, so a
  // sequence's numbers do not depend on who shares its step.
  const size_t n = 6;
  const auto x = test::RandomFloats(n * cols, 9);
  const ActQuant kinds[n] = {ActQuant::kTwice, ActQuant::kOnce, ActQuant::kOnce,
                             ActQuant::kTwice, ActQuant::kTwice, ActQuant::kOnce};
  std::vector<float> mixed(n * rows, -1.0f);
  LinearContext cx;
  Linear(cx, w, nullptr, x.data(), n, mixed.data(), ActRows{.per_row = kinds});
  for (size_t t = 0; t < n; ++t) {
    CAPTURE(t);
    std::vector<float> alone(rows, -2.0f);
    Linear(cx, w, nullptr, x.data() + t * cols, 1, alone.data(), ActRows{.all = kinds[t]});
    CHECK(std::equal(alone.begin(), alone.end(), mixed.begin() + static_cast<std::ptrdiff_t>(t * rows)));
  }
  // And by kind of row under each user setting: auto is twice for decode rows only.
  CHECK(ActQuantFor(ActPrecision::kAuto, true) == ActQuant::kTwice);
  CHECK(ActQuantFor(ActPrecision::kAuto, false) == ActQuant::kOnce);
  CHECK(ActQuantFor(ActPrecision::kInt8, true) == ActQuant::kOnce);
  CHECK(ActQuantFor(ActPrecision::kInt8x2, false) == ActQuant::kTwice);
}

TEST_CASE("activation precision names") {
  CHECK(ParseActPrecision("auto").value() == ActPrecision::kAuto);
  CHECK(ParseActPrecision("int8").value() == ActPrecision::kInt8);
  CHECK(ParseActPrecision("int8x2").value() == ActPrecision::kInt8x2);
  CHECK(std::string(ActPrecisionName(ActPrecision::kInt8x2)) == "int8x2");
  const auto bad = ParseActPrecision("int16");
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("int16") != std::string::npos);
}

TEST_CASE("a many-token f32 linear layer runs oneDNN with its caller's context, and each context keeps its own") {
  const size_t rows = 24, cols = 40, n = kOneDnnMinTokens + 3;
  const auto wv = test::RandomFloats(rows * cols, 41), x = test::RandomFloats(n * cols, 42);
  Weight w;
  w.data = wv.data();
  w.shape = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  LinearContext a, b;
  std::vector<float> ya(n * rows), yb(n * rows);
  Linear(a, w, nullptr, x.data(), n, ya.data());
  CHECK(a.onednn.primitives() == 1);
  CHECK(b.onednn.primitives() == 0);  // nothing process-wide: b has seen no call
  Linear(a, w, nullptr, x.data(), n, ya.data());
  CHECK(a.onednn.primitives() == 1);  // the same shape again: reused
  Linear(b, w, nullptr, x.data(), n, yb.data());
  CHECK(b.onednn.primitives() == 1);
  CHECK(ya == yb);
  double worst = 0;  // and it is the product
  for (size_t t = 0; t < n; ++t) {
    for (size_t r = 0; r < rows; ++r) {
      double e = 0;
      for (size_t i = 0; i < cols; ++i) e += static_cast<double>(wv[r * cols + i]) * x[t * cols + i];
      worst = std::max(worst, std::abs(e - ya[t * rows + r]));
    }
  }
  MESSAGE("worst |y - exact|: " << worst);
  CHECK(worst < 1e-4);
}

}  // namespace
}  // namespace glmv

namespace glmv {
namespace {

struct PackedMatrix {
  std::vector<uint8_t> bytes;
  Weight w;
};

PackedMatrix MakePacked(simd::QuantKind kind, DType dtype, size_t rows, size_t cols, uint32_t seed) {
  PackedMatrix m;
  const auto wf = test::RandomFloats(rows * cols, seed);
  m.bytes.resize(simd::QuantMatrixBytes(kind, rows, cols));
  quant::QuantizeMatrix(kind, quant::QuantScheme::kSearch, wf.data(), rows, cols, m.bytes.data());
  m.w.packed = m.bytes.data();
  m.w.dtype = dtype;
  m.w.shape = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  return m;
}

TEST_CASE("LinearPackedBatch: every job exactly as Linear computes it alone") {
  // Experts-like jobs: gate and up of one input (shared quantization), then others with their own inputs,
  // widths and token counts (1–6: both sides of the int8x2 threshold under auto), kinds and a bias.
  std::vector<PackedMatrix> mats;
  mats.push_back(MakePacked(simd::QuantKind::kQ4NL, DType::kQ4NLG32, 40, 200, 1));  // gate
  mats.push_back(MakePacked(simd::QuantKind::kQ4NL, DType::kQ4NLG32, 40, 200, 2));  // up (same input)
  mats.push_back(MakePacked(simd::QuantKind::kQ8, DType::kQ8G32, 33, 40, 3));
  mats.push_back(MakePacked(simd::QuantKind::kQ4, DType::kQ4G32, 70, 48, 4));
  mats.push_back(MakePacked(simd::QuantKind::kQ8, DType::kQ8G32, 16, 200, 5));
  const size_t ns[] = {2, 2, 1, 6, 4};
  const auto bias = test::RandomFloats(70, 9);
  std::vector<std::vector<float>> xs;
  for (size_t j = 0; j < mats.size(); ++j) {
    xs.push_back(test::RandomFloats(ns[j] * static_cast<size_t>(mats[j].w.cols()), static_cast<uint32_t>(20 + j)));
  }
  LinearContext cx;  // one context for every call: reused buffers must not leak from one call into the next
  for (ActQuant quant : {ActQuant::kOnce, ActQuant::kTwice}) {
    CAPTURE(static_cast<int>(quant));
    const ActRows acts{.all = quant};
    std::vector<std::vector<float>> got(mats.size()), want(mats.size());
    std::vector<PackedLinearJob> jobs;
    for (size_t j = 0; j < mats.size(); ++j) {
      const size_t rows = static_cast<size_t>(mats[j].w.rows());
      got[j].assign(ns[j] * rows, -1.0f);
      want[j].assign(ns[j] * rows, -2.0f);
      const float* x = xs[j == 1 ? 0 : j].data();  // job 1 shares job 0's input
      const float* b = j == 3 ? bias.data() : nullptr;
      jobs.push_back({&mats[j].w, x, ns[j], got[j].data(), b, acts});
      Weight bw;
      bw.data = b;
      bw.shape = {static_cast<int64_t>(rows)};
      Linear(cx, mats[j].w, b ? &bw : nullptr, x, ns[j], want[j].data(), acts);
    }
    LinearPackedBatch(cx, jobs);
    for (size_t j = 0; j < mats.size(); ++j) {
      CAPTURE(j);
      CHECK(got[j] == want[j]);
    }
  }
}

TEST_CASE("LinearPackedBatch: a job without tokens neither runs nor lends its quantization to the next") {
  const PackedMatrix a = MakePacked(simd::QuantKind::kQ8, DType::kQ8G32, 20, 64, 31);
  const PackedMatrix b = MakePacked(simd::QuantKind::kQ8, DType::kQ8G32, 24, 64, 32);
  const auto xa = test::RandomFloats(64, 33), xb = test::RandomFloats(2 * 64, 34);
  std::vector<float> ya(20, -3.0f), yb(2 * 24, -1.0f), want(2 * 24, -2.0f);
  const PackedLinearJob jobs[] = {{&a.w, xa.data(), 0, ya.data()}, {&b.w, xb.data(), 2, yb.data()}};
  LinearContext cx;
  LinearPackedBatch(cx, jobs);
  Linear(cx, b.w, nullptr, xb.data(), 2, want.data());
  CHECK(yb == want);
  CHECK(std::all_of(ya.begin(), ya.end(), [](float v) { return v == -3.0f; }));  // untouched
}

}  // namespace
}  // namespace glmv
