// What the raw-HTTP server tests share: chat request bodies (with media parts), posting them and reading the
// answer, checking an OpenAI-shaped error, a /metrics value, and base64 for data: URLs.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

namespace glmv::test {

// Standard base64 with padding.
std::string Base64(std::span<const uint8_t> bytes);
std::string Base64(const std::string& bytes);

// "data:TYPE;base64,..." ("data:;base64,..." for an empty type).
std::string DataUrl(const std::string& type, std::span<const uint8_t> bytes);

// A one-message chat request for the tiny model: greedy, thinking off, at most `max_tokens` tokens.
nlohmann::json Chat(const std::string& text, int max_tokens = 6);
// The same with a user message of `parts`, then the question "What is this?".
nlohmann::json WithParts(nlohmann::json parts, int max_tokens = 6);
// Content parts: {"type": "image_url", "image_url": {"url": URL}}, the same for video_url, and a file part
// with `file_data` and the filename "doc.pdf".
nlohmann::json ImagePart(const std::string& url);
nlohmann::json VideoPart(const std::string& url);
nlohmann::json FilePart(const std::string& file_data);

struct Answer {
  int status = 0;
  nlohmann::json body;
};

// POST /v1/chat/completions; REQUIREs an answer whose body is JSON.
Answer Post(httplib::Client& c, const std::string& body, const httplib::Headers& headers = {});

// An OpenAI-shaped error: {"error": {"message", "type", ...}} with `status` and a message that mentions
// `mentions`.
void CheckError(const Answer& a, int status, const std::string& mentions);

// The value of one metric in GET /metrics.
double Metric(httplib::Client& c, const std::string& name);

}  // namespace glmv::test
