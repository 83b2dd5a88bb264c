// Chat messages into what the engine takes: the template rendered, tokenized, each image placeholder
// repeated once per visual token and each video placeholder expanded into its frames' layout, with the
// images' and videos' preprocessed pixels in prompt order. The CLI's run and chat call it; the server and
// the batch pipeline will too. It takes typed inputs, never command-line flags or JSON, and never prints.
#pragma once

#include <cstdint>
#include <vector>

#include "io/status.h"
#include "lib/media/image_preprocess.h"
#include "lib/media/video_preprocess.h"
#include "lib/model/config.h"
#include "lib/prompt/chat_template.h"
#include "lib/prompt/multimodal.h"
#include "lib/prompt/video_prompt.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv {

// The media of a request, preprocessed (media/: decoding and preprocessing run on the caller's thread).
// Image parts of the messages stand for image_tokens in order, video parts for videos in order.
struct RequestMedia {
  VisualInputs visual;                      // every image's and video's pixels and grids, in prompt order
  std::vector<int64_t> image_tokens;        // visual tokens of each image (grid t·h·w / merge²)
  std::vector<VideoPromptLayout> videos;    // each video's frames: tokens per frame pair and timestamps

  // Appends an image's pixels, grid and visual tokens after the images already here.
  void AddImage(const PreprocessedImage& image);
  // Appends a video's grid and prompt layout after the videos already here; its pixel values move into
  // visual.video_pixels (up to ~0.6 GB at the default budget: the first video's are not copied).
  void AddVideo(PreprocessedVideo&& video);
};

struct RequestPrompt {
  std::vector<int64_t> ids;  // the whole prompt, placeholders expanded
  VisualInputs visual;       // what the placeholders stand for
};

// Errors name the mismatch: image or video parts that the media do not match, an unknown role, a tool
// message out of place (as the template reports them).
Result<RequestPrompt> BuildRequestPrompt(const ModelConfig& config, const Tokenizer& tokenizer,
                                         const std::vector<ChatMessage>& messages, const ChatOptions& chat,
                                         RequestMedia media);

}  // namespace glmv
