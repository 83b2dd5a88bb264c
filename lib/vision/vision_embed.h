// Where each patch sits and what that adds to it, for the vision tower (spec §3.3–3.4): patch coordinates in
// merge-block order, the learned position table resampled bicubically to the image's grid, and the 2-D
// rotary tables.
#pragma once

#include <cstdint>
#include <vector>

namespace glmv {

// One image, or one temporal patch (frame pair) of a video: a grid of h × w patches (both multiples of m).
struct VisionGrid {
  int64_t t = 1, h = 0, w = 0;
};

// (row, col) of every patch of an h × w grid in merge-block order: row-major over m×m blocks, then
// row-major inside each block. Appends 2·h·w values.
void AppendPatchPositions(int64_t h, int64_t w, int64_t merge, std::vector<int64_t>& rc);

// out[0..D) += the S×S table `table` [S·S, D] sampled at patch (r, c) of an h × w grid, as PyTorch's
// grid_sample(bicubic, align_corners=False, padding_mode=border): A = −0.75, tap indices clamped.
void AddInterpolatedPosEmbed(const float* table, int64_t S, int64_t D, int64_t h, int64_t w, int64_t r, int64_t c,
                             float* out);

// Rotary cos/sin for one patch: head_dim/2 values [r·f_0 .. r·f_{k−1}, c·f_0 .. c·f_{k−1}] with
// k = head_dim/4 and f_j = θ^(−2j/(head_dim/2)); the rotation pairs dims d and d + head_dim/2.
void VisionRopeAngles(int64_t head_dim, double theta, int64_t r, int64_t c, float* cos, float* sin);

}  // namespace glmv
