#include "lib/prompt/mrope_index.h"

#include <algorithm>
#include <string>

namespace glmv {

std::vector<int64_t> ModalityOf(const ModelConfig& config, std::span<const int64_t> ids) {
  std::vector<int64_t> out(ids.size(), static_cast<int64_t>(TokenModality::kText));
  bool in_video = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == config.video_start_token_id) in_video = true;
    if (ids[i] == config.video_end_token_id) in_video = false;
    if (ids[i] == config.image_token_id) {
      out[i] = static_cast<int64_t>(in_video ? TokenModality::kVideo : TokenModality::kImage);
    }
  }
  return out;
}

Result<PromptPositions> ComputePromptPositions(std::span<const int64_t> modality, std::span<const VisionGrid> image_grids,
                                               std::span<const VisionGrid> video_grids, int64_t spatial_merge) {
  // Frames of every video, each a grid of its own (one temporal patch).
  std::vector<VisionGrid> frames;
  for (const auto& g : video_grids) {
    for (int64_t t = 0; t < g.t; ++t) frames.push_back({1, g.h, g.w});
  }
  PromptPositions out;
  int64_t pos = 0;
  size_t next_image = 0, next_frame = 0;
  size_t i = 0;
  while (i < modality.size()) {
    size_t j = i;
    while (j < modality.size() && modality[j] == modality[i]) ++j;
    const int64_t kind = modality[i];
    if (kind == static_cast<int64_t>(TokenModality::kText)) {
      for (size_t k = i; k < j; ++k, ++pos) out.positions.Append(pos, pos, pos);
      i = j;
      continue;
    }
    // A visual run may hold several consecutive grids only if nothing separates them; take grids until
    // the run is covered.
    const bool image = kind == static_cast<int64_t>(TokenModality::kImage);
    size_t k = i;
    while (k < j) {
      const VisionGrid* g = nullptr;
      if (image && next_image < image_grids.size()) g = &image_grids[next_image++];
      if (!image && next_frame < frames.size()) g = &frames[next_frame++];
      if (!g) {
        return Status::Error(std::string("the prompt has more ") + (image ? "image" : "video-frame") +
                             " placeholder tokens than the given grids account for (at token " + std::to_string(k) + ")");
      }
      const int64_t rows = g->h / spatial_merge, cols = g->w / spatial_merge;
      if (static_cast<int64_t>(j - k) < rows * cols) {
        return Status::Error("a run of " + std::to_string(j - k) + " placeholder tokens at token " + std::to_string(k) +
                             " is shorter than its grid's " + std::to_string(rows * cols) + " tokens");
      }
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) out.positions.Append(pos, pos + r, pos + c);
      }
      k += static_cast<size_t>(rows * cols);
      pos += std::max(rows, cols);
    }
    i = j;
  }
  if (next_image != image_grids.size() || next_frame != frames.size()) {
    return Status::Error("the prompt has fewer placeholder runs than images (" + std::to_string(image_grids.size()) +
                         ") and video frame pairs (" + std::to_string(frames.size()) + ") given");
  }
  out.rope_delta = pos - static_cast<int64_t>(modality.size());
  return out;
}

}  // namespace glmv
