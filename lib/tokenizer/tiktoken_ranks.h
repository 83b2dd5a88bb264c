// The tiktoken form of the GLM-4 tokenizer: `tokenizer.model`, one line `base64(token bytes) rank` per
// regular token (ranks 0..n-1, each once; the rank is the token id), plus the added tokens from
// Hugging Face's tokenizer_config.json.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv {

// Token bytes indexed by rank. `name` is used in messages ("name:line: ...").
Result<std::vector<std::string>> ParseTiktokenRanks(std::string_view text, const std::string& name);
Result<std::vector<std::string>> ReadTiktokenRanks(const std::string& path);

// Added tokens from tokenizer_config.json's `added_tokens_decoder` ({"<id>": {"content": ..., "special":
// ...}}), the layout both GLM-4.5 and glm-4-9b-chat use; sorted by id. A config without it is an error:
// guessing ids (e.g. numbering `additional_special_tokens` from the rank count, as glm-4-9b-chat's
// Python tokenizer does) could silently shift every special id.
Result<std::vector<AddedToken>> ParseAddedTokensDecoder(std::string_view json_text, const std::string& name);
Result<std::vector<AddedToken>> ReadAddedTokensDecoder(const std::string& path);

}  // namespace glmv
