// A model is either a Hugging Face directory or one .glmv file (io/model_file.h). Its side files — the
// tokenizer, the preprocessing settings, the chat template — are files beside the weights in the first case
// and metadata entries under the same names in the second. This is the one place that knows both.
#pragma once

#include <optional>
#include <string>

#include "io/status.h"

namespace glmv {

// True when `path` is a regular file that starts with the .glmv magic.
bool IsModelFile(const std::string& path);

// The text of side file `name` (e.g. "preprocessor_config.json") of the model at `model`, or nullopt when
// the model has none. Errors when the model itself cannot be read.
Result<std::optional<std::string>> ReadModelAsset(const std::string& model, const std::string& name);

// The whole text of the side file at `path` (an error names the path when it cannot be read).
Result<std::string> ReadAssetFile(const std::string& path);

// Asset names a converter copies into a .glmv file when the source directory has them.
inline constexpr const char* kModelAssetNames[] = {
    "config.json",          "tokenizer.json",       "tokenizer_config.json",       "tokenizer.model",
    "preprocessor_config.json", "video_preprocessor_config.json", "chat_template.jinja", "chat_template.json",
    "generation_config.json", "special_tokens_map.json",
};

}  // namespace glmv
