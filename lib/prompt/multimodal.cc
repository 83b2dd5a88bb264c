#include "lib/prompt/multimodal.h"

#include <algorithm>
#include <string>

namespace glmv {

Result<std::vector<int64_t>> ExpandImagePlaceholders(const ModelConfig& config, std::span<const int64_t> ids,
                                                     std::span<const int64_t> tokens_per_image) {
  const std::vector<int64_t> modality = ModalityOf(config, ids);
  std::vector<int64_t> out;
  size_t image = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (modality[i] != static_cast<int64_t>(TokenModality::kImage)) {
      out.push_back(ids[i]);
      continue;
    }
    if (image == tokens_per_image.size()) {
      return Status::Error("the prompt has more image placeholders than the " + std::to_string(tokens_per_image.size()) +
                           " images given");
    }
    out.insert(out.end(), static_cast<size_t>(tokens_per_image[image++]), ids[i]);
  }
  if (image != tokens_per_image.size()) {
    return Status::Error(std::to_string(tokens_per_image.size()) + " images given but the prompt has " +
                         std::to_string(image) + " image placeholders");
  }
  return out;
}

Result<PreparedPrompt> PrepareTextPrompt(const TextModel& text, const VisionModel* vision, std::span<const int64_t> ids,
                                         const VisualInputs& visual) {
  const ModelConfig& config = text.model_config();
  const size_t H = static_cast<size_t>(config.text.hidden_size);
  PreparedPrompt out;
  out.embeddings.resize(ids.size() * H);
  GLMV_RETURN_IF_ERROR(text.Embed(ids, out.embeddings.data()));
  out.modality = ModalityOf(config, ids);
  if (!visual.empty() && !vision) return Status::Error("this model has no vision tower; it cannot take images or video");
  const int64_t merge = visual.empty() ? 2 : vision->config().spatial_merge_size;
  GLMV_ASSIGN_OR_RETURN(out.positions, ComputePromptPositions(out.modality, visual.image_grids, visual.video_grids, merge));
  return out;
}

Status ScatterVisualFeatures(PreparedPrompt& prompt, TokenModality kind, std::span<const float> features, size_t H) {
  size_t row = 0;
  for (size_t i = 0; i < prompt.modality.size(); ++i) {
    if (prompt.modality[i] != static_cast<int64_t>(kind)) continue;
    if ((row + 1) * H > features.size()) break;
    std::copy_n(features.data() + row * H, H, prompt.embeddings.data() + i * H);
    ++row;
  }
  if (row * H != features.size()) {
    return Status::Error(std::to_string(features.size() / H) + " visual tokens do not match the prompt's " +
                         std::to_string(row) + " placeholders");
  }
  return Status::Ok();
}

Result<PreparedPrompt> PreparePrompt(const TextModel& text, const VisionModel* vision, std::span<const int64_t> ids,
                                     const VisualInputs& visual, VisionTrace* image_trace, VisionTrace* video_trace) {
  GLMV_ASSIGN_OR_RETURN(PreparedPrompt out, PrepareTextPrompt(text, vision, ids, visual));
  const size_t H = static_cast<size_t>(text.config().hidden_size);
  // Features of each kind fill that kind's placeholder rows in order.
  auto encode = [&](const std::vector<float>& pixels, const std::vector<VisionGrid>& grids, TokenModality kind,
                    VisionTrace* trace) -> Status {
    if (grids.empty()) return Status::Ok();
    GLMV_ASSIGN_OR_RETURN(std::vector<float> features, vision->Encode(pixels, grids, trace));
    return ScatterVisualFeatures(out, kind, features, H);
  };
  GLMV_RETURN_IF_ERROR(encode(visual.image_pixels, visual.image_grids, TokenModality::kImage, image_trace));
  GLMV_RETURN_IF_ERROR(encode(visual.video_pixels, visual.video_grids, TokenModality::kVideo, video_trace));
  return out;
}

}  // namespace glmv
