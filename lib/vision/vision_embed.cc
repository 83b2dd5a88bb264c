#include "lib/vision/vision_embed.h"

#include <algorithm>
#include <cmath>

namespace glmv {
namespace {

// PyTorch's cubic convolution weights (A = −0.75) for distances 1+t, t, 1−t, 2−t.
void CubicCoefficients(float t, float coeffs[4]) {
  constexpr float A = -0.75f;
  auto near = [](float x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };
  auto far = [](float x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };
  coeffs[0] = far(t + 1);
  coeffs[1] = near(t);
  coeffs[2] = near(1 - t);
  coeffs[3] = far(2 - t);
}

}  // namespace

void AppendPatchPositions(int64_t h, int64_t w, int64_t merge, std::vector<int64_t>& rc) {
  for (int64_t by = 0; by < h / merge; ++by) {
    for (int64_t bx = 0; bx < w / merge; ++bx) {
      for (int64_t dy = 0; dy < merge; ++dy) {
        for (int64_t dx = 0; dx < merge; ++dx) {
          rc.push_back(by * merge + dy);
          rc.push_back(bx * merge + dx);
        }
      }
    }
  }
}

void AddInterpolatedPosEmbed(const float* table, int64_t S, int64_t D, int64_t h, int64_t w, int64_t r, int64_t c,
                             float* out) {
  // Normalised sample point, then grid_sample's unnormalisation with align_corners = False.
  const float gx = ((static_cast<float>(c) + 0.5f) / static_cast<float>(w)) * 2.0f - 1.0f;
  const float gy = ((static_cast<float>(r) + 0.5f) / static_cast<float>(h)) * 2.0f - 1.0f;
  const float ix = ((gx + 1.0f) * static_cast<float>(S) - 1.0f) / 2.0f;
  const float iy = ((gy + 1.0f) * static_cast<float>(S) - 1.0f) / 2.0f;
  const float fx = std::floor(ix), fy = std::floor(iy);
  float wx[4], wy[4];
  CubicCoefficients(ix - fx, wx);
  CubicCoefficients(iy - fy, wy);
  int64_t xs[4], ys[4];
  for (int k = 0; k < 4; ++k) {  // border padding clamps each tap, not the sample point
    xs[k] = std::clamp<int64_t>(static_cast<int64_t>(fx) - 1 + k, 0, S - 1);
    ys[k] = std::clamp<int64_t>(static_cast<int64_t>(fy) - 1 + k, 0, S - 1);
  }
  for (int64_t d = 0; d < D; ++d) {
    // Interpolate along x in each of the four rows, then along y (PyTorch's order).
    float rows[4];
    for (int k = 0; k < 4; ++k) {
      const float* row = table + ys[k] * S * D;
      rows[k] = row[xs[0] * D + d] * wx[0] + row[xs[1] * D + d] * wx[1] + row[xs[2] * D + d] * wx[2] +
                row[xs[3] * D + d] * wx[3];
    }
    out[d] += rows[0] * wy[0] + rows[1] * wy[1] + rows[2] * wy[2] + rows[3] * wy[3];
  }
}

void VisionRopeAngles(int64_t head_dim, double theta, int64_t r, int64_t c, float* cos, float* sin) {
  const int64_t dim = head_dim / 2, k = head_dim / 4;
  for (int64_t j = 0; j < k; ++j) {
    const float inv = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(2 * j) / static_cast<float>(dim));
    const float a = static_cast<float>(r) * inv, b = static_cast<float>(c) * inv;
    cos[j] = std::cos(a);
    sin[j] = std::sin(a);
    cos[k + j] = std::cos(b);
    sin[k + j] = std::sin(b);
  }
}

}  // namespace glmv
