// `data:` URLs, the way OpenAI clients send images inline: data:[<media type>][;base64],<payload>. The
// payload is decoded strictly (RFC 4648 alphabet, padding optional, whitespace refused), so a broken upload
// is an error naming what is wrong and where, never a garbage image.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"

namespace glmv::app {

struct DataUrl {
  std::string media_type;      // e.g. "image/png" ("" when the URL gives none)
  std::vector<uint8_t> bytes;  // the decoded payload
};

// Standard base64 (`+`, `/`); `=` padding may be present or absent. Errors give the offset of the first bad
// character.
Result<std::vector<uint8_t>> DecodeBase64(std::string_view text);

// Errors name `what` (e.g. "messages[1].content[0].image_url.url").
Result<DataUrl> ParseDataUrl(std::string_view url, const std::string& what);

}  // namespace glmv::app
