#include "lib/prompt/video_prompt.h"

namespace glmv {

std::string VideoPlaceholderText(const VideoPromptLayout& layout, bool compact) {
  std::string out;
  for (int64_t ts : layout.timestamps) {
    out += "<|begin_of_image|>";
    if (compact) {
      out += "<|image|>*" + std::to_string(layout.tokens_per_pair);
    } else {
      for (int64_t i = 0; i < layout.tokens_per_pair; ++i) out += "<|image|>";
    }
    out += "<|end_of_image|>" + std::to_string(ts);
  }
  return out;
}

Result<std::vector<int64_t>> ExpandVideoPlaceholders(const ModelConfig& config, const Tokenizer& tokenizer,
                                                     std::span<const int64_t> ids,
                                                     std::span<const VideoPromptLayout> videos) {
  if (config.video_token_id < 0 || config.image_token_id < 0 || config.image_start_token_id < 0 ||
      config.image_end_token_id < 0 || config.video_start_token_id < 0 || config.video_end_token_id < 0) {
    return Status::Error("the model config lacks the image/video token ids a video prompt needs");
  }
  std::vector<int64_t> out;
  size_t video = 0;
  bool in_span = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t id = ids[i];
    if (id == config.video_start_token_id) in_span = true;
    if (id == config.video_end_token_id) in_span = false;
    if (id != config.video_token_id) {
      out.push_back(id);
      continue;
    }
    if (!in_span) {
      return Status::Error("the prompt has a <|video|> placeholder outside <|begin_of_video|>…<|end_of_video|> "
                           "(token " + std::to_string(i) + ")");
    }
    if (video == videos.size()) {
      return Status::Error("the prompt has more video placeholders than the " + std::to_string(videos.size()) +
                           " videos given");
    }
    const VideoPromptLayout& layout = videos[video++];
    if (layout.tokens_per_pair <= 0 || layout.timestamps.empty()) {
      return Status::Error("video " + std::to_string(video) + " has no frames or no visual tokens");
    }
    for (int64_t ts : layout.timestamps) {
      out.push_back(config.image_start_token_id);
      out.insert(out.end(), static_cast<size_t>(layout.tokens_per_pair), config.image_token_id);
      out.push_back(config.image_end_token_id);
      const std::vector<int64_t> digits = tokenizer.Encode(std::to_string(ts));
      out.insert(out.end(), digits.begin(), digits.end());
    }
  }
  if (video != videos.size()) {
    return Status::Error(std::to_string(videos.size()) + " videos given but the prompt has " + std::to_string(video) +
                         " video placeholders");
  }
  return out;
}

}  // namespace glmv
