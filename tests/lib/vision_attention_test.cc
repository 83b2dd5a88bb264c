// The blocked (GEMM) vision attention equals the row-by-row one, and both equal a float64 reference.
#include <doctest/doctest.h>

#include <cmath>

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

}  // namespace
}  // namespace glmv
