#include "tests/serve/serve_client.h"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "tests/test_util.h"

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

std::string PngDataUrl() {
  std::ifstream f(DataDir() / "images" / "basn6a08.png", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  REQUIRE(!bytes.empty());
  return "data:image/png;base64," + Base64(bytes);
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

json LongStreamRequest() {
  json r = Chat("Tell me everything", 4000);
  r["stream"] = true;
  r["temperature"] = 1;
  r["seed"] = 3;
  r["response_format"] = {{"type", "json_schema"},
                          {"json_schema", {{"name", "long"}, {"schema", {{"type", "string"}, {"minLength", 3000}}}}}};
  return r;
}

std::string RawPost(const json& body) {
  const std::string b = body.dump();
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(b.size()) + "\r\n\r\n" + b;
}

Answer Post(httplib::Client& c, const std::string& body, const httplib::Headers& headers) {
  c.set_read_timeout(300, 0);  // not cpp-httplib's 5 s: tests run side by side on a loaded machine
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

double MetricIn(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  REQUIRE_MESSAGE(at != std::string::npos, name);
  return std::stod(metrics.substr(at + name.size() + 2));
}

double Metric(httplib::Client& c, const std::string& name) {
  auto r = c.Get("/metrics");
  REQUIRE(r);
  return MetricIn(r->body, name);
}

bool WaitForMetric(httplib::Client& c, const std::string& name, double value) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (Metric(c, name) == value) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Stream ParseSse(const std::string& body) {
  Stream s;
  size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    const size_t end = body.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    const std::string data = body.substr(at + 6, end - at - 6);
    at = end;
    CHECK_FALSE(s.done);  // nothing after [DONE]
    if (data == "[DONE]") {
      s.done = true;
      continue;
    }
    const json chunk = json::parse(data, nullptr, false);
    REQUIRE_MESSAGE(!chunk.is_discarded(), data);
    s.chunks.push_back(chunk);
  }
  return s;
}

}  // namespace glmv::test
