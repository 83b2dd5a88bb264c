// The vision tower's fused bf16 attention: the AVX512-BF16 kernel and its scalar twin each stay within what
// rounding the softmax weights to bf16 costs of a float64 softmax over the same bf16 inputs, at lengths and
// head sizes that are not multiples of the tiles, and write nothing but their rows' first hd columns.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "simd/vision_attention_bf16.h"
#include "tests/test_util.h"

namespace glmv::simd {
namespace {

struct Shape {
  size_t n, hd, rows;
  float gain;  // scales q: larger gains make peaked softmaxes whose max moves from tile to tile
};

// Runs one block of `rows` queries over n keys and values and checks it against float64 over the same bf16
// inputs, and that only the rows' first hd columns were written.
void CheckShape(BF16Dot how, const Shape& c, uint32_t seed) {
  CAPTURE(c.n);
  CAPTURE(c.hd);
  CAPTURE(c.rows);
  CAPTURE(static_cast<int>(how));
  const size_t stride = c.hd + 3;  // rows wider than a head, as in the qkv matrix
  const auto qf = test::RandomFloats(c.rows * stride, seed), kf = test::RandomFloats(c.n * stride, seed + 1),
             vf = test::RandomFloats(c.n * stride, seed + 2);
  std::vector<uint16_t> q(qf.size()), k(kf.size()), v(vf.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = F32ToBF16(qf[i] * c.gain);
  // Keys grow along the sequence, so later tiles raise the running max and earlier outputs are rescaled.
  for (size_t i = 0; i < k.size(); ++i) k[i] = F32ToBF16(kf[i] * (1.0f + 2.0f * float(i / stride) / float(c.n)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = F32ToBF16(vf[i]);
  const size_t tiles = VisionKeyTiles(c.n);
  std::vector<uint32_t> kp(tiles * VisionKeyTileWords(c.hd)), vp(tiles * VisionValueTileWords(c.hd));
  PackVisionKeys(k.data(), stride, c.n, c.hd, 0, 1, kp.data());  // in two calls, as threads pack them
  PackVisionKeys(k.data(), stride, c.n, c.hd, 1, tiles, kp.data());
  PackVisionValues(v.data(), stride, c.n, c.hd, 0, tiles, vp.data());
  const size_t out_stride = c.hd + 5;
  constexpr float kUntouched = -9.0f;
  std::vector<float> out((c.rows + 1) * out_stride, kUntouched);
  const float scale = 1.0f / std::sqrt(float(c.hd));
  VisionBlockScratch scratch;
  VisionAttentionBlock(how, q.data(), stride, c.rows, kp.data(), vp.data(), c.n, c.hd, scale, out.data(), out_stride,
                       scratch);
  double worst = 0, vmax = 0;
  for (size_t b = 0; b < c.rows; ++b) {
    std::vector<double> s(c.n);
    double mx = -1e300, sum = 0;
    for (size_t j = 0; j < c.n; ++j) {
      double dot = 0;
      for (size_t d = 0; d < c.hd; ++d) dot += double(BF16ToF32(q[b * stride + d])) * BF16ToF32(k[j * stride + d]);
      mx = std::max(mx, s[j] = dot * scale);
    }
    for (auto& x : s) sum += (x = std::exp(x - mx));
    for (size_t d = 0; d < c.hd; ++d) {
      double o = 0;
      for (size_t j = 0; j < c.n; ++j) {
        const double x = BF16ToF32(v[j * stride + d]);
        o += s[j] / sum * x;
        vmax = std::max(vmax, std::fabs(x));
      }
      worst = std::max(worst, std::fabs(o - out[b * out_stride + d]));
    }
    for (size_t d = c.hd; d < out_stride; ++d) CHECK(out[b * out_stride + d] == kUntouched);
  }
  for (size_t d = 0; d < out_stride; ++d) CHECK(out[c.rows * out_stride + d] == kUntouched);
  // Each weight is off by at most half a bf16 step (2⁻⁹ of it) and its normaliser by about as much, so an
  // output by 2⁻⁸ · max |v|; f32 sums and exp2's 1.2e-7 add far less.
  const double bound = std::ldexp(vmax, -8) + 1e-5;
  MESSAGE("fused bf16 attention n " << c.n << " hd " << c.hd << " rows " << c.rows << " gain " << c.gain
                                    << std::string(how == BF16Dot::kNative ? " native" : " twin") << ": worst " << worst
                                    << " (bound " << bound << ")");
  CHECK(worst <= bound);
}

TEST_CASE("fused vision attention: the AVX512-BF16 kernel and its twin against float64, ragged shapes") {
  const Shape shapes[] = {{1, 8, 1, 1.0f},     {7, 13, 5, 1.0f},   {63, 16, 6, 2.0f},   {64, 30, 7, 2.0f},
                          {65, 72, 13, 4.0f},  {130, 128, 48, 4.0f}, {200, 32, 47, 8.0f}, {300, 80, 48, 2.0f}};
  std::vector<BF16Dot> hows = {BF16Dot::kEmulated};
  if (BestBF16Dot() == BF16Dot::kNative) {
    hows.push_back(BF16Dot::kNative);
  } else {
    MESSAGE("this CPU has no AVX512-BF16: only the scalar twin is checked");
  }
  uint32_t seed = 40;
  for (const Shape& c : shapes) {
    for (const BF16Dot how : hows) CheckShape(how, c, seed);
    seed += 3;
  }
}

TEST_CASE("fused vision attention: the native kernel agrees with its twin") {
  if (BestBF16Dot() != BF16Dot::kNative) {
    MESSAGE("this CPU has no AVX512-BF16: nothing to compare");
    return;
  }
  const size_t n = 150, hd = 40, rows = 20;
  const auto qf = test::RandomFloats(rows * hd, 7), kf = test::RandomFloats(n * hd, 8), vf = test::RandomFloats(n * hd, 9);
  std::vector<uint16_t> q(qf.size()), k(kf.size()), v(vf.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = F32ToBF16(3.0f * qf[i]);
  for (size_t i = 0; i < k.size(); ++i) k[i] = F32ToBF16(kf[i]), v[i] = F32ToBF16(vf[i]);
  const size_t tiles = VisionKeyTiles(n);
  std::vector<uint32_t> kp(tiles * VisionKeyTileWords(hd)), vp(tiles * VisionValueTileWords(hd));
  PackVisionKeys(k.data(), hd, n, hd, 0, tiles, kp.data());
  PackVisionValues(v.data(), hd, n, hd, 0, tiles, vp.data());
  std::vector<float> native(rows * hd), twin(rows * hd);
  VisionBlockScratch scratch;
  const float scale = 1.0f / std::sqrt(float(hd));
  VisionAttentionBlock(BF16Dot::kNative, q.data(), hd, rows, kp.data(), vp.data(), n, hd, scale, native.data(), hd, scratch);
  VisionAttentionBlock(BF16Dot::kEmulated, q.data(), hd, rows, kp.data(), vp.data(), n, hd, scale, twin.data(), hd, scratch);
  double worst = 0;
  for (size_t i = 0; i < native.size(); ++i) worst = std::max(worst, double(std::fabs(native[i] - twin[i])));
  MESSAGE("native vs twin: worst " << worst);
  // The same tiles and roundings: they differ only where exp2's polynomial and std::exp2 round a weight to
  // neighbouring bf16 values, one bf16 step of one weight.
  CHECK(worst < std::ldexp(1.0, -7));
}

}  // namespace
}  // namespace glmv::simd
