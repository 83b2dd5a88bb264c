#include "tests/serve/serve_client.h"

#include <doctest/doctest.h>

namespace glmv::test {

using json = nlohmann::json;

std::string Base64(std::span<const uint8_t> bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t(bytes[i]) << 16) | (uint32_t(bytes[i + 1]) << 8) | bytes[i + 2];
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t(bytes[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint32_t(bytes[i]) << 16) | (uint32_t(bytes[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

std::string Base64(const std::string& bytes) {
  return Base64(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::string DataUrl(const std::string& type, std::span<const uint8_t> bytes) {
  return "data:" + type + ";base64," + Base64(bytes);
}

json WithParts(json parts, int max_tokens) {
  json req = Chat("", max_tokens);
  parts.push_back({{"type", "text"}, {"text", "What is this?"}});
  req["messages"][0]["content"] = std::move(parts);
  return req;
}

json ImagePart(const std::string& url) { return {{"type", "image_url"}, {"image_url", {{"url", url}}}}; }
json VideoPart(const std::string& url) { return {{"type", "video_url"}, {"video_url", {{"url", url}}}}; }
json FilePart(const std::string& file_data) {
  return {{"type", "file"}, {"file", {{"file_data", file_data}, {"filename", "doc.pdf"}}}};
}

json Chat(const std::string& text, int max_tokens) {
  return {{"model", "tiny"},
          {"messages", {{{"role", "user"}, {"content", text}}}},
          {"max_tokens", max_tokens},
          {"temperature", 0},
          {"chat_template_kwargs", {{"enable_thinking", false}}}};
}

Answer Post(httplib::Client& c, const std::string& body, const httplib::Headers& headers) {
  auto r = c.Post("/v1/chat/completions", headers, body, "application/json");
  REQUIRE(r);
  Answer a{r->status, json::parse(r->body, nullptr, false)};
  REQUIRE_MESSAGE(!a.body.is_discarded(), r->body);
  return a;
}

void CheckError(const Answer& a, int status, const std::string& mentions) {
  CHECK(a.status == status);
  REQUIRE(a.body.contains("error"));
  const std::string message = a.body["error"].value("message", "");
  CHECK_MESSAGE(message.find(mentions) != std::string::npos, message);
  CHECK(a.body["error"].contains("type"));
}

double Metric(httplib::Client& c, const std::string& name) {
  auto r = c.Get("/metrics");
  REQUIRE(r);
  const size_t at = r->body.find("\n" + name + " ");
  REQUIRE_MESSAGE(at != std::string::npos, name);
  return std::stod(r->body.substr(at + name.size() + 2));
}

}  // namespace glmv::test
