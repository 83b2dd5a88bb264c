// The blocked (GEMM) vision attention equals the row-by-row one, and both equal a float64 reference.
#include <doctest/doctest.h>

#include <cmath>

#include "io/dtype.h"
#include "lib/base/onednn.h"
#include "lib/vision/vision_attention.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

TEST_CASE("blocked attention matches rows and a float64 reference, touching only its segment") {
  const size_t D = 64, hd = 16, n = 300;
  auto qkv = test::RandomFloats(n * 3 * D, 31);
  for (auto& v : qkv) v *= 2.0f;
  std::vector<float> blocked(n * D, -9.0f), rows(n * D, -9.0f), scratch;
  const size_t begin = 10, end = 290;  // a segment in the middle
  OneDnnCache onednn;
  VisionSegmentAttention(onednn, qkv.data(), begin, end, D, hd, blocked.data(), scratch);
  CHECK(onednn.primitives() > 0);  // the blocked path ran, through the caller's cache
  VisionSegmentAttentionRows(qkv.data(), begin, end, D, hd, rows.data(), scratch);
  double worst_rows = 0, worst_ref = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < D; ++c) {
      const float b = blocked[i * D + c];
      if (i < begin || i >= end) {
        CHECK(b == -9.0f);
        continue;
      }
      worst_rows = std::max(worst_rows, std::fabs(double(b) - rows[i * D + c]));
    }
  }
  // float64 reference for a few rows
  for (size_t i : {begin, size_t{150}, end - 1}) {
    for (size_t h = 0; h < D / hd; ++h) {
      std::vector<double> s(end - begin);
      double mx = -1e300, sum = 0;
      for (size_t j = begin; j < end; ++j) {
        double dot = 0;
        for (size_t d = 0; d < hd; ++d) dot += double(qkv[i * 3 * D + h * hd + d]) * qkv[j * 3 * D + D + h * hd + d];
        s[j - begin] = dot / std::sqrt(double(hd));
        mx = std::max(mx, s[j - begin]);
      }
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (size_t d = 0; d < hd; ++d) {
        double o = 0;
        for (size_t j = begin; j < end; ++j) o += s[j - begin] / sum * qkv[j * 3 * D + 2 * D + h * hd + d];
        worst_ref = std::max(worst_ref, std::fabs(o - blocked[i * D + h * hd + d]));
      }
    }
  }
  MESSAGE("blocked vs rows " << worst_rows << ", blocked vs float64 " << worst_ref);
  CHECK(worst_rows < 1e-5);
  CHECK(worst_ref < 1e-5);
}

TEST_CASE("bf16 attention: exact bf16 products and f32 sums, within half a bf16 step of each softmax weight") {
  const size_t D = 64, hd = 16, n = 300;
  auto qkv = test::RandomFloats(n * 3 * D, 32);
  for (auto& v : qkv) v *= 2.0f;
  std::vector<uint16_t> qkv_bf16(qkv.size());
  for (size_t i = 0; i < qkv.size(); ++i) qkv_bf16[i] = F32ToBF16(qkv[i]);
  VisionAttentionBuffers buffers;
  OneDnnCache onednn;
  // A long segment (several query blocks would need ≥ 16M scores; this one is one block) and a short one
  // (the golden sets' size, where f32 runs row by row): both through the bf16 GEMMs.
  // Each path: the one the tower takes (fused where the CPU has AVX512-BF16), oneDNN's blocks, and the fused
  // path's scalar twin.
  for (const int path : {0, 1, 2}) {
    for (const auto [begin, end] : {std::pair<size_t, size_t>{10, 290}, std::pair<size_t, size_t>{290, 300}}) {
      CAPTURE(path);
      CAPTURE(begin);
      std::vector<float> out(n * D, -9.0f);
      Status st = Status::Ok();
      if (path == 0) st = VisionSegmentAttentionBF16(onednn, qkv_bf16.data(), begin, end, D, hd, out.data(), buffers);
      if (path == 1) st = VisionSegmentAttentionBlockedBF16(onednn, qkv_bf16.data(), begin, end, D, hd, out.data(), buffers);
      if (path == 2) {
        VisionSegmentAttentionFused(simd::BF16Dot::kEmulated, qkv_bf16.data(), begin, end, D, hd, out.data(), buffers);
      }
      if (!st.ok()) {  // only a CPU whose oneDNN has no bf16 at all may refuse
        MESSAGE("oneDNN refused bf16: " << st.message());
        CHECK(!OneDnnHasNativeBF16());
        continue;
      }
      double worst = 0, bound = 0;
      for (size_t i = 0; i < n; ++i) {
        if (i >= begin && i < end) continue;
        for (size_t c = 0; c < D; ++c) CHECK(out[i * D + c] == -9.0f);
      }
      // float64 over the same bf16 inputs; each weight may be off by half a bf16 step (at most 2⁻⁸ of it), so
      // an output by at most 2⁻⁸ · max |v| (plus f32 sums).
      for (size_t i = begin; i < end; ++i) {
        for (size_t h = 0; h < D / hd; ++h) {
          std::vector<double> sc(end - begin);
          double mx = -1e300, sum = 0, vmax = 0;
          for (size_t j = begin; j < end; ++j) {
            double dot = 0;
            for (size_t d = 0; d < hd; ++d) {
              dot += double(BF16ToF32(qkv_bf16[i * 3 * D + h * hd + d])) * BF16ToF32(qkv_bf16[j * 3 * D + D + h * hd + d]);
            }
            sc[j - begin] = dot / std::sqrt(double(hd));
            mx = std::max(mx, sc[j - begin]);
          }
          for (auto& v : sc) sum += (v = std::exp(v - mx));
          for (size_t d = 0; d < hd; ++d) {
            double o = 0;
            for (size_t j = begin; j < end; ++j) {
              const double v = BF16ToF32(qkv_bf16[j * 3 * D + 2 * D + h * hd + d]);
              o += sc[j - begin] / sum * v;
              vmax = std::max(vmax, std::fabs(v));
            }
            worst = std::max(worst, std::fabs(o - out[i * D + h * hd + d]));
          }
          bound = std::max(bound, std::ldexp(vmax, -8) + 1e-5);
        }
      }
      MESSAGE("bf16 attention (path " << path << ") [" << begin << ", " << end
                                      << ") vs float64 on the same inputs: worst " << worst << " (bound " << bound
                                      << ")");
      CHECK(worst <= bound);
      CHECK(worst > 0);  // the weights were rounded: not the f32 path
    }
  }
}

}  // namespace
}  // namespace glmv
