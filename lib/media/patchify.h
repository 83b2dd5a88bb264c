// Pixel normalisation and patch extraction for the GLM-V vision tower (spec §4.1 steps 4-5, §4.2 step 3).
// Turns equally sized uint8 RGB frames into the processor's pixel_values rows: one row per 14×14 patch,
// flattened as [C=3][T][14][14], rows in 2×2-merge-block order. A still image is passed as T copies of
// itself; a video passes its frames in time order.
#pragma once

#include <array>
#include <cstddef>  // io/image.h uses size_t without including <cstddef>
#include <cstdint>
#include <vector>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

struct PatchifyParams {
  int patch_size = 14;
  int merge_size = 2;
  int temporal_patch_size = 2;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;  // applied in float64, then cast to float32 (transformers' rescale)
  bool do_normalize = true;
  std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};  // OpenAI CLIP, float32
  std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};

  int64_t patch_dim() const { return 3LL * temporal_patch_size * patch_size * patch_size; }  // 1176
};

struct Patches {
  std::vector<float> values;  // [grid_t * grid_h * grid_w][patch_dim]
  int64_t grid_t = 0;         // frames / temporal_patch_size
  int64_t grid_h = 0;         // height / patch_size
  int64_t grid_w = 0;         // width / patch_size
};

// The float32 value a uint8 sample of channel c becomes: rescale, then (x - mean[c]) / std[c] in float32.
float NormalizeSample(uint8_t value, int channel, const PatchifyParams& params);

// Patchifies `frames` (non-null, all the same size; height and width multiples of patch·merge; a positive
// multiple of temporal_patch_size of them). Frame t·T + i is temporal slice i of temporal patch t.
Result<Patches> PatchifyFrames(const std::vector<const RgbImage*>& frames, const PatchifyParams& params);

}  // namespace glmv
