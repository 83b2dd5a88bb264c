// The video part of a prompt (spec §4.2 step 5, §5.3): the chat template writes
// `<|begin_of_video|><|video|><|end_of_video|>` for a video; the reference's processor replaces the
// `<|video|>` with, per temporal patch (frame pair) k,
//   `<|begin_of_image|>` + `<|image|>` × tokens_per_pair + `<|end_of_image|>` + decimal text of ts_k
// where ts_k is the integer second of the pair's first frame. It does this on the text before tokenizing, so
// each timestamp is tokenized on its own (special tokens bound it on both sides); the expansion here works on
// token ids and gives the same ids.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/model/config.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv {

struct VideoPromptLayout {
  int64_t tokens_per_pair = 0;      // grid_h · grid_w / merge²
  std::vector<int64_t> timestamps;  // one per temporal patch, integer seconds
};

// The text the processor puts in place of `<|video|>`. `compact` writes `<|image|>*n` instead of n copies,
// the notation of golden/preprocess/video_sizing.json.
std::string VideoPlaceholderText(const VideoPromptLayout& layout, bool compact = false);

// Replaces the i-th `<|video|>` token of `ids` by video i's frame groups (ids of the model's image tokens, the
// tokenizer's ids of the timestamp digits). Each `<|video|>` must sit inside `<|begin_of_video|>` …
// `<|end_of_video|>` (the span makes its frames count as video), and the counts of placeholders and
// layouts must agree.
Result<std::vector<int64_t>> ExpandVideoPlaceholders(const ModelConfig& config, const Tokenizer& tokenizer,
                                                     std::span<const int64_t> ids,
                                                     std::span<const VideoPromptLayout> videos);

}  // namespace glmv
