#include "lib/prompt/request_builder.h"

#include <string>
#include <utility>

namespace glmv {

void RequestMedia::AddImage(const PreprocessedImage& image) {
  visual.image_pixels.insert(visual.image_pixels.end(), image.pixel_values.begin(), image.pixel_values.end());
  visual.image_grids.push_back({image.grid_t, image.grid_h, image.grid_w});
  image_tokens.push_back(image.num_tokens);
}

void RequestMedia::AddVideo(PreprocessedVideo&& video) {
  if (visual.video_pixels.empty()) {
    visual.video_pixels = std::move(video.pixel_values);
  } else {
    visual.video_pixels.insert(visual.video_pixels.end(), video.pixel_values.begin(), video.pixel_values.end());
  }
  video.pixel_values = {};
  visual.video_grids.push_back({video.grid_t, video.grid_h, video.grid_w});
  videos.push_back({video.tokens_per_pair, std::move(video.timestamps)});
}

Result<RequestPrompt> BuildRequestPrompt(const ModelConfig& config, const Tokenizer& tokenizer,
                                         const std::vector<ChatMessage>& messages, const ChatOptions& chat,
                                         RequestMedia media) {
  size_t image_parts = 0, video_parts = 0;
  for (const ChatMessage& m : messages) {
    for (const ChatContentPart& p : m.parts) {
      image_parts += p.type == ChatContentPart::Type::kImage;
      video_parts += p.type == ChatContentPart::Type::kVideo;
    }
  }
  if (image_parts != media.image_tokens.size() || image_parts != media.visual.image_grids.size()) {
    return Status::Error("the messages show " + std::to_string(image_parts) + " images but " +
                         std::to_string(media.visual.image_grids.size()) + " were given");
  }
  if (video_parts != media.videos.size() || video_parts != media.visual.video_grids.size()) {
    return Status::Error("the messages show " + std::to_string(video_parts) + " videos but " +
                         std::to_string(media.visual.video_grids.size()) + " were given");
  }
  RequestPrompt out;
  GLMV_ASSIGN_OR_RETURN(out.ids, ExpandImagePlaceholders(config, tokenizer.Encode(RenderChatPrompt(messages, chat)),
                                                         media.image_tokens));
  if (!media.videos.empty()) {
    GLMV_ASSIGN_OR_RETURN(out.ids, ExpandVideoPlaceholders(config, tokenizer, out.ids, media.videos));
  }
  out.visual = std::move(media.visual);
  return out;
}

}  // namespace glmv
