// glmv serve over HTTP with the tiny model: the OpenAI shapes (answer, stream, usage), an image as a data:
// URL and its reuse by the prefix cache, every malformed request answered with an OpenAI-shaped 4xx and the
// next request still served, the API key, the bounded queue's 429 while /health and /metrics still answer,
// and a client that hangs up mid-stream freeing its slot.
#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/engine/answer_schema.h"
#include "tests/serve/serve_client.h"
#include "tests/serve/serve_process.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using json = nlohmann::json;
using test::Answer;
using test::Base64;
using test::Chat;
using test::CheckError;
using test::Metric;
using test::PngDataUrl;
using test::Post;
using test::WaitForMetric;

const std::string kTiny = (test::DataDir() / "tiny-glm4v-moe").string();


TEST_CASE("serve: health, models, an answer and its stream in OpenAI's shapes") {
  test::ServeProcess server({"-m", kTiny});
  httplib::Client c("127.0.0.1", server.port());
  auto health = c.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto models = c.Get("/v1/models");
  REQUIRE(models);
  CHECK(json::parse(models->body)["data"][0]["id"] == "tiny-glm4v-moe");

  const Answer a = Post(c, Chat("Hello there").dump());
  REQUIRE(a.status == 200);
  CHECK(a.body["object"] == "chat.completion");
  CHECK(a.body["choices"][0]["message"]["role"] == "assistant");
  const json usage = a.body["usage"];
  CHECK(usage["completion_tokens"].get<int>() >= 1);
  CHECK(usage["completion_tokens"].get<int>() <= 6);
  CHECK(usage["total_tokens"] == usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());
  // Tokens after the first come from decode steps, which /metrics times (published before the answer).
  if (usage["completion_tokens"].get<int>() >= 2) {
    CHECK(Metric(c, "glmv_decode_step_seconds_total") > 0);
    CHECK(Metric(c, "glmv_decode_tokens_per_second") > 0);
  }

  // The same request streamed: role first, the same text in pieces, the finish reason, usage, [DONE].
  json s = Chat("Hello there");
  s["stream"] = true;
  s["stream_options"] = {{"include_usage", true}};
  auto r = c.Post("/v1/chat/completions", s.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type").find("text/event-stream") == 0);
  std::string content, finish;
  bool role_first = false, usage_seen = false, done = false;
  size_t at = 0, events = 0;
  while ((at = r->body.find("data: ", at)) != std::string::npos) {
    const size_t end = r->body.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    const std::string data = r->body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    const json chunk = json::parse(data);
    CHECK(chunk["object"] == "chat.completion.chunk");
    if (chunk.contains("usage")) {
      usage_seen = chunk["usage"]["completion_tokens"] == usage["completion_tokens"];
      continue;
    }
    const json& choice = chunk["choices"][0];
    if (events++ == 0) role_first = choice["delta"].value("role", "") == "assistant";
    if (choice["delta"].contains("content")) content += choice["delta"]["content"].get<std::string>();
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  CHECK(role_first);
  CHECK(done);
  CHECK(usage_seen);
  CHECK(!finish.empty());
  CHECK(content == a.body["choices"][0]["message"]["content"].get<std::string>());
}

TEST_CASE("serve: an image as a data: URL, and the same image again comes from the prefix cache") {
  test::ServeProcess server({"-m", kTiny});
  httplib::Client c("127.0.0.1", server.port());
  json req = Chat("");
  req["messages"][0]["content"] = {{{"type", "image_url"}, {"image_url", {{"url", PngDataUrl()}, {"detail", "low"}}}},
                                   {{"type", "text"}, {"text", "What is this?"}}};
  const Answer first = Post(c, req.dump());
  REQUIRE(first.status == 200);
  const int prompt = first.body["usage"]["prompt_tokens"];
  CHECK(prompt > Post(c, Chat("What is this?").dump()).body["usage"]["prompt_tokens"].get<int>());
  const Answer again = Post(c, req.dump());
  REQUIRE(again.status == 200);
  // Everything up to the question is reused: the image's tokens included.
  const int cached = again.body["usage"]["prompt_tokens_details"]["cached_tokens"];
  MESSAGE("prompt tokens " << prompt << ", cached on the repeat " << cached);
  CHECK(cached >= prompt - 12);
  CHECK(again.body["choices"][0]["message"]["content"] == first.body["choices"][0]["message"]["content"]);
}

TEST_CASE("serve: every malformed request gets an OpenAI-shaped 4xx, and the next request is served") {
  const std::string dir = test::DataDir().string();
  test::ServeProcess server({"-m", kTiny, "--ctx", "256", "--max-images", "2", "--max-body-bytes", "300KiB",
                             "--allow-local-files", dir + "/images"});
  httplib::Client c("127.0.0.1", server.port());
  auto image = [](const std::string& url) {
    json req = Chat("");
    req["messages"][0]["content"] = {{{"type", "image_url"}, {"image_url", {{"url", url}}}}, {{"type", "text"}, {"text", "?"}}};
    return req;
  };
  json wrong_type = Chat("hi");
  wrong_type["temperature"] = "hot";
  json bad_role = Chat("hi");
  bad_role["messages"][0]["role"] = "wizard";
  json three = Chat("");
  three["messages"][0]["content"] = json::array();
  for (int i = 0; i < 3; ++i) three["messages"][0]["content"].push_back({{"type", "image_url"}, {"image_url", {{"url", PngDataUrl()}}}});
  json bad_stop = Chat("hi");
  bad_stop["stop"] = {1, 2};
  const std::string big(400 * 1024, 'a');
  const struct {
    std::string body;
    int status;
    std::string mentions;
  } cases[] = {
      {"{\"messages\": [", 400, "not valid JSON"},
      {"[1, 2]", 400, "JSON object"},
      {"{\"model\": \"x\"}", 400, "messages"},
      {"{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}", 400, "UTF-8"},
      {wrong_type.dump(), 400, "temperature"},
      {bad_role.dump(), 400, "wizard"},
      {bad_stop.dump(), 400, "stop"},
      {Chat(std::string(3000, 'x') + " " + std::string(3000, 'y')).dump(), 400, "context"},
      {Chat(big).dump(), 413, "limit"},
      {image("data:image/png;base64,iVBOR%%%").dump(), 400, "base64"},
      {image("data:image/png;base64," + Base64("this is not a picture at all")).dump(), 400, "messages[0].content[0]"},
      {three.dump(), 400, "more than 2 images"},
      {image("https://example.com/cat.png").dump(), 400, "does not fetch"},
      {image("file:///etc/passwd").dump(), 400, "outside"},
      {image("file://" + dir + "/images/../tiny-glm4v-moe/config.json").dump(), 400, "outside"},
      {image("ftp://x/y.png").dump(), 400, "data: URL"},
  };
  for (const auto& k : cases) {
    CAPTURE(k.body.substr(0, 120));
    CheckError(Post(c, k.body), k.status, k.mentions);
    CHECK(server.running());
  }
  // A file:// image inside the allowed directory works; so does a plain request after all of the above.
  CHECK(Post(c, image("file://" + dir + "/images/basn6a08.png").dump()).status == 200);
  CHECK(Post(c, Chat("still there?").dump()).status == 200);
  auto missing = c.Get("/v1/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body).contains("error"));
}

TEST_CASE("serve: response_format json_schema gives answers that parse and satisfy the schema") {
  test::ServeProcess server({"-m", kTiny, "--parallel", "4"});
  httplib::Client c("127.0.0.1", server.port());
  const json schema = json::parse(test::kAnswerSchema);
  int distinct = 0;
  std::string previous;
  for (int seed = 0; seed < 10; ++seed) {
    CAPTURE(seed);
    json req = Chat("Describe the point as JSON", 600);
    req["temperature"] = 1;
    req["seed"] = seed;
    req["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "answer"}, {"schema", schema}, {"strict", true}}}};
    const Answer a = Post(c, req.dump());
    REQUIRE(a.status == 200);
    CHECK(a.body["choices"][0]["finish_reason"] == "stop");
    const std::string content = a.body["choices"][0]["message"]["content"];
    const auto parsed = nlohmann::ordered_json::parse(content, nullptr, false);
    REQUIRE_MESSAGE(!parsed.is_discarded(), content);
    CHECK_MESSAGE(test::AnswerProblems(parsed).empty(), content);
    distinct += content != previous;
    previous = content;
  }
  CHECK(distinct >= 5);  // sampled, not one fixed answer
  json unsupported = Chat("hi");
  unsupported["response_format"] = {{"type", "json_schema"},
                                    {"json_schema", {{"name", "x"}, {"schema", {{"type", "string"}, {"format", "date"}}}}}};
  CheckError(Post(c, unsupported.dump()), 400, "format");
  json object = Chat("hi", 300);
  object["response_format"] = {{"type", "json_object"}};
  object["temperature"] = 1;
  const Answer o = Post(c, object.dump());
  REQUIRE(o.status == 200);
  if (o.body["choices"][0]["finish_reason"] == "stop") {  // a random model may fill 300 tokens with one object
    CHECK(json::parse(o.body["choices"][0]["message"]["content"].get<std::string>(), nullptr, false).is_object());
  }
}

TEST_CASE("serve: --api-key guards every endpoint but /health") {
  test::ServeProcess server({"-m", kTiny, "--api-key", "sesame"});
  httplib::Client c("127.0.0.1", server.port());
  CheckError(Post(c, Chat("hi").dump()), 401, "API key");
  CheckError(Post(c, Chat("hi").dump(), {{"Authorization", "Bearer wrong"}}), 401, "API key");
  CHECK(Post(c, Chat("hi").dump(), {{"Authorization", "Bearer sesame"}}).status == 200);
  auto health = c.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto models = c.Get("/v1/models");
  REQUIRE(models);
  CHECK(models->status == 401);
}

TEST_CASE("serve: a full queue answers 429 while /health and /metrics answer; a hang-up frees its slot") {
  test::ServeProcess server({"-m", kTiny, "--parallel", "1", "--max-queue", "0", "--ctx", "4096"});
  httplib::Client c("127.0.0.1", server.port());
  const std::string http = test::RawPost(test::LongStreamRequest());  // holds the one slot
  std::string first_bytes;
  std::promise<void> hang_up;
  std::shared_future<void> hang_up_now = hang_up.get_future().share();
  // Reads up to the first piece of the answer (the role chunk before it carries an empty content), holds the
  // connection until the checks below are done, then hangs up.
  std::thread streamer([&] {
    first_bytes = test::RawExchange(server.port(), http, "\"delta\":{\"content\"", 1 << 16, [&] { hang_up_now.wait(); });
  });
  // Wait until the one slot is busy.
  const bool busy = WaitForMetric(c, "glmv_slots_active", 1);
  // No REQUIRE until the streamer is released: a throw here would leave its thread waiting.
  CHECK(busy);
  auto r = c.Post("/v1/chat/completions", Chat("me too").dump(), "application/json");
  CHECK((r && r->status == 429));
  CHECK((r && r->get_header_value("Retry-After") == "1"));
  auto health = c.Get("/health");
  const bool health_ok = health && health->status == 200;
  hang_up.set_value();
  streamer.join();  // read the first content chunk, then hung up
  CHECK(health_ok);
  CHECK(first_bytes.find("200 OK") != std::string::npos);
  CHECK(WaitForMetric(c, "glmv_slots_active", 0));  // within a few steps
  CHECK(Metric(c, "glmv_requests_cancelled_total") == 1);
  CHECK(Post(c, Chat("my turn").dump()).status == 200);
}

TEST_CASE("serve: a client that gives up on a non-streaming request frees its slot at once") {
  test::ServeProcess server({"-m", kTiny, "--parallel", "1", "--ctx", "4096"});
  httplib::Client c("127.0.0.1", server.port());
  json long_answer = test::LongStreamRequest();
  long_answer["stream"] = false;  // thousands of tokens, written only once all are made
  std::promise<void> hang_up;
  std::shared_future<void> hang_up_now = hang_up.get_future().share();
  // Sends the request, reads nothing, and closes the connection once the slot is seen busy.
  std::thread client([&] { test::RawExchange(server.port(), test::RawPost(long_answer), "", 0, [&] { hang_up_now.wait(); }); });
  const bool busy = WaitForMetric(c, "glmv_slots_active", 1);
  const double steps_busy = Metric(c, "glmv_steps_total");
  hang_up.set_value();
  client.join();
  CHECK(busy);
  CHECK(WaitForMetric(c, "glmv_slots_active", 0));
  CHECK(Metric(c, "glmv_requests_cancelled_total") == 1);
  // Ended long before its 4000 tokens: a watch every 250 ms, a step of the tiny model takes milliseconds.
  const double steps_after = Metric(c, "glmv_steps_total");
  MESSAGE("steps while the slot was busy: from " << steps_busy << " to " << steps_after);
  CHECK(steps_after < 3000);
  CHECK(test::WaitForMetric(c, "glmv_requests_total{path=\"/v1/chat/completions\",status=\"499\"}", 1));
  CHECK(Post(c, Chat("my turn").dump()).status == 200);
}

}  // namespace
}  // namespace glmv
