// What the tests of `glmv serve` send and read, over cpp-httplib's client: chat requests in OpenAI's shape
// (with media parts), answers parsed as JSON, OpenAI-shaped errors, SSE streams split into their chunks,
// /metrics values, and base64 for data: URLs.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace glmv::test {

// Standard base64 with padding.
std::string Base64(std::span<const uint8_t> bytes);
std::string Base64(const std::string& bytes);

// "data:TYPE;base64,..." ("data:;base64,..." for an empty type).
std::string DataUrl(const std::string& type, std::span<const uint8_t> bytes);
// tests/data/images/basn6a08.png as a data: URL.
std::string PngDataUrl();

// A one-message chat request for the tiny model: greedy, thinking off, at most `max_tokens` tokens.
nlohmann::json Chat(const std::string& text, int max_tokens = 6);
// The same with a user message of `parts`, then the question "What is this?".
nlohmann::json WithParts(nlohmann::json parts, int max_tokens = 6);
// Content parts: {"type": "image_url", "image_url": {"url": URL}}, the same for video_url, and a file part
// with `file_data` and the filename "doc.pdf".
nlohmann::json ImagePart(const std::string& url);
nlohmann::json VideoPart(const std::string& url);
nlohmann::json FilePart(const std::string& file_data);

// A streamed request that cannot end early: its answer must be a string of at least 3000 characters (a
// random model would otherwise often emit an end-of-turn token within a few dozen tokens and free its slot
// by itself); it runs until the context is full.
nlohmann::json LongStreamRequest();
// `body` as a whole HTTP/1.1 POST /v1/chat/completions, for RawExchange.
std::string RawPost(const nlohmann::json& body);

struct Answer {
  int status = 0;
  nlohmann::json body;
};

// POST /v1/chat/completions (waiting up to 300 s); REQUIREs an answer whose body is JSON.
Answer Post(httplib::Client& c, const std::string& body, const httplib::Headers& headers = {});

// An OpenAI-shaped error: {"error": {"message", "type", ...}} with `status`, its message mentioning `mentions`.
void CheckError(const Answer& a, int status, const std::string& mentions);

// One line of /metrics: `name value`, from a scrape's text or from a new scrape.
double MetricIn(const std::string& metrics, const std::string& name);
double Metric(httplib::Client& c, const std::string& name);
// Whether /metrics shows `name` at `value` within 30 s (the scheduler may publish just after an answer).
// Generous: a loaded CI machine may take seconds for what takes milliseconds here, and a state that never
// comes still fails the check.
bool WaitForMetric(httplib::Client& c, const std::string& name, double value);

// A stream's `data:` events as JSON chunks (the final [DONE] is not one: `done` says whether it came last).
struct Stream {
  std::vector<nlohmann::json> chunks;
  bool done = false;
};
Stream ParseSse(const std::string& body);

}  // namespace glmv::test
