// The definition FlashAttention's tests compare against: for each query row and head, all scores of the
// row, their max, exp, sum and the weighted values, in double. key(t, e) and value(t, e) read position t's
// dimension e from whatever layout the test keeps.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace glmv::test {

// Rows r in [0, rows) at positions start + r see [0, start + r]; q and the result share `q_stride`.
template <typename Key, typename Value>
std::vector<float> TwoPassAttention(const std::vector<float>& q, size_t q_stride, size_t rows, size_t start,
                                    size_t group, size_t hd, double scale, Key key, Value value) {
  std::vector<float> out(rows * q_stride, 0.0f);
  std::vector<double> sc(start + rows);
  for (size_t r = 0; r < rows; ++r) {
    const size_t visible = start + r + 1;
    for (size_t g = 0; g < group; ++g) {
      const float* qh = q.data() + r * q_stride + g * hd;
      double mx = -1e300, sum = 0;
      for (size_t t = 0; t < visible; ++t) {
        double dot = 0;
        for (size_t e = 0; e < hd; ++e) dot += double(qh[e]) * key(t, e);
        mx = std::max(mx, sc[t] = dot * scale);
      }
      for (size_t t = 0; t < visible; ++t) sum += (sc[t] = std::exp(sc[t] - mx));
      for (size_t e = 0; e < hd; ++e) {
        double acc = 0;
        for (size_t t = 0; t < visible; ++t) acc += sc[t] * value(t, e);
        out[r * q_stride + g * hd + e] = static_cast<float>(acc / sum);
      }
    }
  }
  return out;
}

}  // namespace glmv::test
