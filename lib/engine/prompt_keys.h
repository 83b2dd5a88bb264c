// What a prompt token's keys and values depend on besides its position, as one 64-bit key: a text token's
// id, or for a visual placeholder the 256-bit hash of its image's (or video's) preprocessed pixels and grid
// mixed with its index in that image. Two prompts can share keys and values exactly as far as their keys
// agree — so a chat that sends the same picture every turn does not encode it again.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/status.h"
#include "lib/prompt/multimodal.h"

namespace glmv {

// Keys of the prompt tokens `ids` with per-token `modality` (TokenModality) and the visual inputs their
// placeholders stand for; patch_values: values per patch row; merge: the spatial merge size. Errors when
// the placeholders and the grids disagree.
Result<std::vector<uint64_t>> PromptContentKeys(std::span<const int64_t> ids, std::span<const int64_t> modality,
                                                const VisualInputs& visual, size_t patch_values, int64_t merge);

// The key of a text token (generated tokens fed back are text tokens).
inline uint64_t TextKey(int64_t id) { return static_cast<uint64_t>(id) & ~(uint64_t{1} << 63); }

}  // namespace glmv
