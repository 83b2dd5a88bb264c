// What the tests of `glmv serve` send and read, over cpp-httplib's client: chat requests in OpenAI's shape,
// answers parsed as JSON, SSE streams split into their chunks, /metrics values, images as data: URLs.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace glmv::test {

std::string Base64(const std::string& bytes);
// tests/data/images/basn6a08.png as a data: URL.
std::string PngDataUrl();

// A request for `text` with greedy decoding, thinking off, at most `max_tokens`.
nlohmann::json Chat(const std::string& text, int max_tokens = 6);

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

// One line of /metrics: `name value`.
double Metric(httplib::Client& c, const std::string& name);
// Whether /metrics shows `name` at `value` within 5 s (the scheduler may publish just after an answer).
bool WaitForMetric(httplib::Client& c, const std::string& name, double value);

// A stream's `data:` events as JSON chunks (the final [DONE] is not one: `done` says whether it came last).
struct Stream {
  std::vector<nlohmann::json> chunks;
  bool done = false;
};
Stream ParseSse(const std::string& body);

}  // namespace glmv::test
