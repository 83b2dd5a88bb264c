// 3-D positions of a multimodal prompt (spec §2.4, the reference's get_rope_index): text runs count up;
// each image, and each frame pair of a video, is a block of merged-grid tokens at (p, p + row, p + col),
// after which the count resumes at p + max(rows, cols). Generation continues at index + rope_delta.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/status.h"
#include "lib/model/config.h"
#include "lib/text/rope.h"
#include "lib/vision/vision_embed.h"

namespace glmv {

enum class TokenModality : int64_t { kText = 0, kImage = 1, kVideo = 2 };

// Per token: image placeholder inside <|begin_of_video|>…<|end_of_video|> → video, elsewhere → image,
// anything else → text (the processor's mm_token_type_ids).
std::vector<int64_t> ModalityOf(const ModelConfig& config, std::span<const int64_t> ids);

struct PromptPositions {
  MRopePositions positions;
  int64_t rope_delta = 0;  // max position + 1 − prompt length
};

// Errors when a visual run does not have the token count its grid implies, or grids are missing/unused.
Result<PromptPositions> ComputePromptPositions(std::span<const int64_t> modality, std::span<const VisionGrid> image_grids,
                                               std::span<const VisionGrid> video_grids, int64_t spatial_merge);

}  // namespace glmv
