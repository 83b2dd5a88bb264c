// The media content parts of a chat request: `image_url` (PNG, JPEG, WebP), `video_url` (vLLM's extension)
// and `file` (a PDF in OpenAI's shape). Each is decoded from memory (a data: URL, or a file:// URL under
// --allow-local-files) and preprocessed on the HTTP thread, within the server's media limits, into the
// engine's RequestMedia. The messages come back with each media part replaced by what the chat template
// takes: an image or video placeholder, a PDF by its pages' image placeholders. Every problem is a 400 that
// names the part ("messages[1].content[2].video_url") and says why; nothing in a part can crash the server.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/serve/chat_request.h"
#include "lib/prompt/request_builder.h"

namespace glmv::app {

struct MediaParts {
  nlohmann::ordered_json messages;              // the request's, media parts replaced by placeholders
  RequestMedia media;                           // images, PDF pages and videos, in prompt order
  std::vector<std::pair<int, int>> image_sizes;  // width, height of each image and PDF page, in order
};

// `messages` with each media part as one placeholder part and nothing decoded: what the chat template's reader
// checks before any media is decoded, so that a malformed request costs no decoding and its errors carry the
// request's own part indices (a PDF's pages would shift them).
nlohmann::ordered_json MediaPlaceholders(const nlohmann::ordered_json& messages);

// Loads every media part of `messages` (a JSON array; its shape beyond the parts is checked later, by the
// chat template's reader). Parts of tool messages are left as they are: a tool's output is text.
std::optional<HttpError> LoadMediaParts(const nlohmann::ordered_json& messages, const ChatModelInfo& info,
                                        MediaParts& out);

}  // namespace glmv::app
