#include "lib/engine/prompt_keys.h"

#include <string>

#include "lib/base/hash.h"
#include "lib/prompt/mrope_index.h"

namespace glmv {
namespace {

// Keys of every visual token of one kind (images, or videos), in prompt order: per grid, the hash of its
// pixels and grid, mixed with the token's index in it. Visual keys have the top bit set; text keys never do.
Result<std::vector<uint64_t>> VisualKeys(std::span<const float> pixels, std::span<const VisionGrid> grids,
                                         size_t patch_values, int64_t merge) {
  std::vector<uint64_t> keys;
  size_t row = 0;
  for (const VisionGrid& g : grids) {
    const size_t patches = static_cast<size_t>(g.t * g.h * g.w);
    if ((row + patches) * patch_values > pixels.size()) return Status::Error("visual inputs: fewer pixels than the grids need");
    const int64_t grid[3] = {g.t, g.h, g.w};
    Hash256 h = HashBytes({reinterpret_cast<const uint8_t*>(grid), sizeof(grid)});
    h = HashBytes({reinterpret_cast<const uint8_t*>(pixels.data() + row * patch_values), patches * patch_values * sizeof(float)}, h);
    const size_t tokens = patches / static_cast<size_t>(merge * merge);
    for (size_t i = 0; i < tokens; ++i) {
      const uint64_t index[1] = {i};
      const Hash256 k = HashBytes({reinterpret_cast<const uint8_t*>(index), sizeof(index)}, h);
      keys.push_back(k[0] | (uint64_t{1} << 63));
    }
    row += patches;
  }
  return keys;
}

}  // namespace

Result<std::vector<uint64_t>> PromptContentKeys(std::span<const int64_t> ids, std::span<const int64_t> modality,
                                                const VisualInputs& visual, size_t patch_values, int64_t merge) {
  GLMV_ASSIGN_OR_RETURN(const auto image_keys, VisualKeys(visual.image_pixels, visual.image_grids, patch_values, merge));
  GLMV_ASSIGN_OR_RETURN(const auto video_keys, VisualKeys(visual.video_pixels, visual.video_grids, patch_values, merge));
  std::vector<uint64_t> keys(ids.size());
  size_t image = 0, video = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto kind = static_cast<TokenModality>(modality[i]);
    if (kind == TokenModality::kImage) {
      if (image >= image_keys.size()) return Status::Error("more image placeholders than image tokens");
      keys[i] = image_keys[image++];
    } else if (kind == TokenModality::kVideo) {
      if (video >= video_keys.size()) return Status::Error("more video placeholders than video tokens");
      keys[i] = video_keys[video++];
    } else {
      keys[i] = TextKey(ids[i]);
    }
  }
  if (image != image_keys.size() || video != video_keys.size()) {
    return Status::Error("the visual inputs have more tokens than the prompt has placeholders");
  }
  return keys;
}

}  // namespace glmv
