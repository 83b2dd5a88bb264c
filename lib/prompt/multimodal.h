// Assembling a multimodal prompt for the decoder (spec §2.4, §3.9): token embeddings with each visual run's
// placeholder rows replaced by its image's (or video frame pair's) features, and the 3-D positions.
#pragma once

#include <span>
#include <vector>

#include "io/status.h"
#include "lib/prompt/mrope_index.h"
#include "lib/text/text_model.h"
#include "lib/vision/vision_model.h"

namespace glmv {

// Preprocessed pixels of every image and video of a prompt, in order of appearance.
struct VisualInputs {
  std::vector<float> image_pixels;  // [Σ patches, patch_values] over all images
  std::vector<VisionGrid> image_grids;
  std::vector<float> video_pixels;  // [Σ patches, patch_values] over all videos
  std::vector<VisionGrid> video_grids;
  bool empty() const { return image_grids.empty() && video_grids.empty(); }
};

struct PreparedPrompt {
  std::vector<float> embeddings;  // [n, H]
  PromptPositions positions;
  std::vector<int64_t> modality;  // per token, TokenModality
};

// The chat template writes one <|image|> per image; the model needs one per visual token. Returns `ids`
// with the i-th image placeholder (outside video spans) repeated tokens_per_image[i] times. Errors when the
// counts of placeholders and images differ.
Result<std::vector<int64_t>> ExpandImagePlaceholders(const ModelConfig& config, std::span<const int64_t> ids,
                                                     std::span<const int64_t> tokens_per_image);

// The text side of a prompt: the embeddings of `ids` (placeholder rows hold the placeholder's own embedding
// until ScatterVisualFeatures replaces them), each token's modality and the 3-D positions, which need only
// the grids of `visual`. `vision` may be null when `visual` is empty.
Result<PreparedPrompt> PrepareTextPrompt(const TextModel& text, const VisionModel* vision, std::span<const int64_t> ids,
                                         const VisualInputs& visual);

// Writes `features` ([tokens, H], the encoder's output for every image, or every video, of the prompt) into
// the placeholder rows of `kind`, in order. Errors when the counts differ.
Status ScatterVisualFeatures(PreparedPrompt& prompt, TokenModality kind, std::span<const float> features, size_t H);

// Both, with the images and videos encoded whole: `vision` may be null when `visual` is empty. Traces, when
// given, receive the vision intermediates of the images and of the videos.
Result<PreparedPrompt> PreparePrompt(const TextModel& text, const VisionModel* vision, std::span<const int64_t> ids,
                                     const VisualInputs& visual, VisionTrace* image_trace = nullptr,
                                     VisionTrace* video_trace = nullptr);

}  // namespace glmv
