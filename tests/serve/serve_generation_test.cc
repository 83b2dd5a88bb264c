// glmv serve's generation features over HTTP with the tiny model: `n` choices (prefilled once, forked; each
// with its own seeded stream), `logprobs`/`top_logprobs` in answers and streams, forced tool calls
// (tool_choice "required" and a named function) as `tool_calls` and `delta.tool_calls` with their arguments
// satisfying the function's schema, a tool-call round trip rendered as GLM's template does, SSE `: ping`
// comments while a stream waits, and /metrics counting one vision encode for an image sent twice.
#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <cmath>
#include <future>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "lib/tokenizer/tokenizer.h"
#include "tests/serve/serve_client.h"
#include "tests/serve/serve_process.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using test::Answer;
using test::Chat;
using test::CheckError;
using test::Metric;
using test::ParseSse;
using test::Post;
using test::WaitForMetric;

const std::string kTiny = (test::DataDir() / "tiny-glm4v-moe").string();

const Tokenizer& Tiny() {
  static const auto tok = Tokenizer::FromHfJson(kTiny + "/tokenizer.json");
  REQUIRE_MESSAGE(tok.ok(), tok.status().message());
  return *tok.value();
}

// The streamed text of each choice, its finish reason and its logprobs entries, by index.
struct Streamed {
  std::map<int, std::string> content;
  std::map<int, std::string> finish;
  std::map<int, json> logprobs;  // the entries of every chunk, in order
  std::map<int, json> tool_calls;  // by choice: the calls assembled as OpenAI's client does
  json usage;
  bool done = false;
};

Streamed Stream(httplib::Client& c, json req) {
  req["stream"] = true;
  req["stream_options"] = {{"include_usage", true}};
  auto r = c.Post("/v1/chat/completions", req.dump(), "application/json");
  REQUIRE(r);
  REQUIRE_MESSAGE(r->status == 200, r->body);
  const test::Stream s = ParseSse(r->body);
  Streamed out;
  out.done = s.done;
  for (const json& chunk : s.chunks) {
    if (chunk.contains("usage") && !chunk["usage"].is_null()) out.usage = chunk["usage"];
    for (const json& choice : chunk["choices"]) {
      const int i = choice["index"];
      const json& delta = choice["delta"];
      if (delta.contains("content") && delta["content"].is_string()) out.content[i] += delta["content"].get<std::string>();
      if (!choice["finish_reason"].is_null()) {
        CHECK_MESSAGE(!out.finish.count(i), "a second finish chunk for choice " << i);
        out.finish[i] = choice["finish_reason"];
      }
      if (choice["logprobs"].is_object()) {
        for (const json& e : choice["logprobs"]["content"]) out.logprobs[i].push_back(e);
      }
      if (delta.contains("tool_calls")) {
        for (const json& call : delta["tool_calls"]) {
          const int k = call["index"];
          json& into = out.tool_calls[i][k];
          if (call.contains("id")) {  // the head: id, type, name
            CHECK(!into.contains("id"));
            into = call;
          } else {
            REQUIRE(into.contains("id"));
            into["function"]["arguments"] = into["function"]["arguments"].get<std::string>() +
                                            call["function"]["arguments"].get<std::string>();
          }
        }
      }
    }
  }
  return out;
}

// The same tokens with the same log-probabilities (up to the rounding of a prompt prefilled in another
// chunking: a repeat reuses the cached prefix and runs only the last prompt token).
void CheckSameLogprobs(const json& a, const json& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i]["bytes"] == b[i]["bytes"]);
    CHECK(a[i]["logprob"].get<double>() == doctest::Approx(b[i]["logprob"].get<double>()).epsilon(1e-4));
    REQUIRE(a[i]["top_logprobs"].size() == b[i]["top_logprobs"].size());
  }
}

TEST_CASE("serve: n choices, prefilled once; each seeded on its own; usage sums them; n is bounded") {
  test::ServeProcess server({"-m", kTiny, "--parallel", "3"});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(300, 0);  // a loaded machine runs the first request (and its warm-up) slowly
  // Greedy: every fork continues as the unforked sequence does.
  json greedy = Chat("Tell me a story", 12);
  greedy["n"] = 3;
  const Answer g = Post(c, greedy.dump());
  REQUIRE(g.status == 200);
  REQUIRE(g.body["choices"].size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(g.body["choices"][i]["index"] == i);
    CHECK(g.body["choices"][i]["message"]["content"] == g.body["choices"][0]["message"]["content"]);
  }
  json one = Chat("Tell me a story", 12);
  CHECK(Post(c, one.dump()).body["choices"][0]["message"]["content"] == g.body["choices"][0]["message"]["content"]);

  // Sampled with a seed: repeatable, choices differ, choice 0 is the n = 1 answer of the same seed.
  json hot = Chat("Tell me a story", 24);
  hot["temperature"] = 1.0;
  hot["seed"] = 5;
  hot["n"] = 3;
  hot["logprobs"] = true;
  const Answer a = Post(c, hot.dump());
  REQUIRE(a.status == 200);
  REQUIRE(a.body["choices"].size() == 3);
  CHECK(Post(c, hot.dump()).body["choices"] == a.body["choices"]);
  std::set<std::string> distinct;
  int tokens = 0;
  for (int i = 0; i < 3; ++i) {
    const json& choice = a.body["choices"][i];
    CHECK(choice["index"] == i);
    distinct.insert(choice["message"]["content"].get<std::string>());
    // Tokens of the choice: its logprobs entries, and the eos that ended it (not listed).
    tokens += static_cast<int>(choice["logprobs"]["content"].size()) + (choice["finish_reason"] == "stop" ? 1 : 0);
  }
  CHECK(distinct.size() >= 2);
  CHECK(a.body["usage"]["completion_tokens"] == tokens);
  CHECK(a.body["usage"]["total_tokens"] == tokens + a.body["usage"]["prompt_tokens"].get<int>());
  json single = hot;
  single["n"] = 1;
  const Answer s1 = Post(c, single.dump());
  CHECK(s1.body["choices"][0]["message"] == a.body["choices"][0]["message"]);
  CHECK(s1.body["usage"]["prompt_tokens"] == a.body["usage"]["prompt_tokens"]);

  // The same request streamed: chunks for every index, the same texts, one finish each, usage summed.
  Streamed st = Stream(c, hot);
  CHECK(st.done);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    // (Not the content: a random model writes stray <think> tags, which a stream splits as they come.)
    CHECK(st.finish[i] == a.body["choices"][i]["finish_reason"].get<std::string>());
    CheckSameLogprobs(st.logprobs[i], a.body["choices"][i]["logprobs"]["content"]);
  }
  CHECK(st.usage["completion_tokens"] == tokens);

  json too_many = Chat("hi");
  too_many["n"] = 4;
  CheckError(Post(c, too_many.dump()), 400, "at most 3");
  CHECK(test::WaitForMetric(c, "glmv_slots_active", 0));
}

TEST_CASE("serve: logprobs and top_logprobs in OpenAI's shape, in answers and in streams") {
  test::ServeProcess server({"-m", kTiny});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(300, 0);  // a loaded machine runs the first request (and its warm-up) slowly
  json req = Chat("Hello there", 16);
  req["logprobs"] = true;
  req["top_logprobs"] = 5;
  const Answer a = Post(c, req.dump());
  REQUIRE(a.status == 200);
  const json& choice = a.body["choices"][0];
  REQUIRE(choice["logprobs"].is_object());
  const json& content = choice["logprobs"]["content"];
  REQUIRE(content.is_array());
  REQUIRE(!content.empty());
  std::string text;
  for (const json& e : content) {
    CAPTURE(e.dump());
    REQUIRE(e["bytes"].is_array());
    std::string bytes;
    for (const json& b : e["bytes"]) bytes += static_cast<char>(b.get<int>());
    text += bytes;
    CHECK(e["token"].is_string());
    CHECK(e["logprob"].get<double>() <= 0.0);
    const json& top = e["top_logprobs"];
    REQUIRE(top.size() == 5);
    // Greedy: the chosen token is the most likely one.
    CHECK(top[0]["bytes"] == e["bytes"]);
    CHECK(top[0]["logprob"].get<double>() == doctest::Approx(e["logprob"].get<double>()));
    double mass = 0;
    for (size_t k = 0; k < top.size(); ++k) {
      mass += std::exp(top[k]["logprob"].get<double>());
      if (k > 0) CHECK(top[k]["logprob"].get<double>() <= top[k - 1]["logprob"].get<double>());
      CHECK(top[k]["bytes"].is_array());
    }
    CHECK(mass <= 1.0 + 1e-6);
  }
  CHECK(!text.empty());
  // One entry per generated token, but the eos that ended the answer.
  const int eos = choice["finish_reason"] == "stop" ? 1 : 0;
  CHECK(static_cast<int>(content.size()) == a.body["usage"]["completion_tokens"].get<int>() - eos);
  Streamed st = Stream(c, req);
  CheckSameLogprobs(st.logprobs.at(0), content);

  json no_top = Chat("hi");
  no_top["logprobs"] = true;
  const Answer plain = Post(c, no_top.dump());
  REQUIRE(plain.status == 200);
  CHECK(plain.body["choices"][0]["logprobs"]["content"][0]["top_logprobs"].empty());
  CHECK(Post(c, Chat("hi").dump()).body["choices"][0]["logprobs"].is_null());
  json bad = Chat("hi");
  bad["logprobs"] = true;
  bad["top_logprobs"] = 21;
  CheckError(Post(c, bad.dump()), 400, "top_logprobs");
  bad.erase("logprobs");
  bad["top_logprobs"] = 2;
  CheckError(Post(c, bad.dump()), 400, "logprobs");
}

// Short (the tiny tokenizer spends about a token per character of the prompt's tool list, and the tiny
// model's context is 1024 tokens), closed: enum, integer, boolean.
const char* kWeatherTools = R"([
  {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {
    "city": {"enum": ["Paris", "Oslo"]}, "days": {"type": "integer"}, "metric": {"type": "boolean"}},
    "required": ["city", "days"]}}},
  {"type": "function", "function": {"name": "time", "parameters": {"type": "object",
    "properties": {"zone": {"enum": ["UTC", "CET"]}}, "required": ["zone"]}}}
])";

// What breaks the function's schema in `arguments` (a JSON string), or "".
std::string ArgumentProblems(const std::string& name, const std::string& arguments) {
  const json args = json::parse(arguments, nullptr, false);
  if (args.is_discarded() || !args.is_object()) return "arguments are not a JSON object: " + arguments;
  if (name == "time") {
    if (args.size() != 1 || !(args.value("zone", "") == "UTC" || args.value("zone", "") == "CET")) return "bad zone";
    return "";
  }
  if (name != "weather") return "unknown function " + name;
  for (const auto& [key, v] : args.items()) {
    if (key != "city" && key != "days" && key != "metric") return "unlisted argument " + key;
  }
  if (!args.contains("city") || !args["city"].is_string()) return "no city";
  const std::string city = args["city"];
  if (city != "Paris" && city != "Oslo") return "city not in the enum";
  if (!args.contains("days") || !args["days"].is_number_integer()) return "days is not an integer";
  if (args.contains("metric") && !args["metric"].is_boolean()) return "metric is not a boolean";
  return "";
}

TEST_CASE("serve: tool_choice required or named forces GLM's tool-call format; calls come back as tool_calls") {
  test::ServeProcess server({"-m", kTiny});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(300, 0);  // a loaded machine runs the first request (and its warm-up) slowly
  const json tools = json::parse(kWeatherTools);
  std::map<std::string, int> called;
  for (int seed = 0; seed < 6; ++seed) {
    CAPTURE(seed);
    json req = Chat("What is the weather in Paris?", 300);
    req["temperature"] = 1;
    req["seed"] = seed;
    req["tools"] = tools;
    req["tool_choice"] = seed % 2 ? json("required") : json({{"type", "function"}, {"function", {{"name", "weather"}}}});
    const Answer a = Post(c, req.dump());
    REQUIRE(a.status == 200);
    const json& choice = a.body["choices"][0];
    CHECK(choice["finish_reason"] == "tool_calls");
    CHECK(choice["message"]["content"].is_null());
    const json& calls = choice["message"]["tool_calls"];
    REQUIRE(calls.is_array());
    REQUIRE(!calls.empty());
    if (seed % 2 == 0) CHECK(calls.size() == 1);
    for (size_t i = 0; i < calls.size(); ++i) {
      const json& call = calls[i];
      CHECK(!call.contains("index"));  // only a stream's deltas number their calls
      CHECK(call["type"] == "function");
      CHECK(call["id"].get<std::string>().rfind("call_", 0) == 0);
      const std::string name = call["function"]["name"];
      if (seed % 2 == 0) CHECK(name == "weather");
      REQUIRE(call["function"]["arguments"].is_string());
      CHECK_MESSAGE(ArgumentProblems(name, call["function"]["arguments"]).empty(), call.dump());
      ++called[name];
    }
    // Streamed: the same calls as delta.tool_calls, and none of GLM's tags in the content.
    Streamed st = Stream(c, req);
    CHECK(st.finish.at(0) == "tool_calls");
    CHECK(st.content[0].empty());
    REQUIRE(st.tool_calls.count(0));
    REQUIRE(st.tool_calls.at(0).size() == calls.size());
    for (size_t i = 0; i < calls.size(); ++i) {
      json streamed = st.tool_calls.at(0)[i];
      CHECK(streamed["index"] == i);
      CHECK(streamed["id"].get<std::string>().rfind("call_", 0) == 0);
      json whole = calls[i];
      for (json* j : {&streamed, &whole}) j->erase("id");  // each request has ids of its own
      streamed.erase("index");
      CHECK(streamed == whole);
    }
  }
  MESSAGE("calls: weather " << called["weather"] << ", time " << called["time"]);
  json unknown = Chat("hi");
  unknown["tools"] = tools;
  unknown["tool_choice"] = {{"type", "function"}, {"function", {{"name", "launch"}}}};
  CheckError(Post(c, unknown.dump()), 400, "launch");
  json unsupported = Chat("hi");
  unsupported["tools"] = tools;
  unsupported["tools"][0]["function"]["parameters"]["properties"]["days"]["minimum"] = 1;
  unsupported["tool_choice"] = "required";
  CheckError(Post(c, unsupported.dump()), 400, "minimum");
}

TEST_CASE("serve: a tool-call round trip: the assistant's call and the tool's answer rendered as GLM's template") {
  test::ServeProcess server({"-m", kTiny});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(300, 0);  // a loaded machine runs the first request (and its warm-up) slowly
  json req = Chat("What time is it?", 200);
  req["temperature"] = 1;
  req["seed"] = 7;
  req["tools"] = json::array({json::parse(kWeatherTools)[1]});  // one short tool: the context is 1024 tokens
  req["tool_choice"] = {{"type", "function"}, {"function", {{"name", "time"}}}};
  const Answer first = Post(c, req.dump());
  REQUIRE(first.status == 200);
  const json message = first.body["choices"][0]["message"];
  REQUIRE(message["tool_calls"].size() == 1);
  const json call = message["tool_calls"][0];
  json next = req;
  next.erase("tool_choice");
  next["messages"].push_back(message);  // as the client got it: content null, tool_calls
  next["messages"].push_back({{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "{\"temp\": 21}"}});
  const Answer second = Post(c, next.dump());
  REQUIRE(second.status == 200);
  // The prompt grew by exactly the template's rendering of the two messages (spec §5.3, items 5 and 6): the
  // generation prompt that ended the first is the one that ends the second.
  std::string turn = "<|assistant|>\n<think></think>\n<tool_call>time\n";
  const ojson args = ojson::parse(call["function"]["arguments"].get<std::string>());
  for (const auto& [key, v] : args.items()) {
    turn += "<arg_key>" + key + "</arg_key>\n<arg_value>" + (v.is_string() ? v.get<std::string>() : v.dump()) + "</arg_value>\n";
  }
  turn += "</tool_call><|observation|>\n<tool_response>\n{\"temp\": 21}\n</tool_response>";
  const int grown = second.body["usage"]["prompt_tokens"].get<int>() - first.body["usage"]["prompt_tokens"].get<int>();
  CHECK(grown == static_cast<int>(Tiny().Encode(turn).size()));
  // Its prompt starts with the first one's, which the prefix cache holds.
  CHECK(second.body["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>() >=
        first.body["usage"]["prompt_tokens"].get<int>() - 3);
}

TEST_CASE("serve: a stream waiting for its turn gets ': ping' comments before its first chunk") {
  test::ServeProcess server({"-m", kTiny, "--parallel", "1", "--max-queue", "2", "--sse-ping-ms", "20"});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(300, 0);  // a loaded machine runs the first request (and its warm-up) slowly
  // The one slot is held by a stream whose answer cannot end early.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder([&] { test::RawExchange(server.port(), test::RawPost(test::LongStreamRequest()), "\"delta\":{\"content\"", 1 << 16, [&] { released.wait(); }); });
  const bool busy = WaitForMetric(c, "glmv_slots_active", 1);
  json waiting = Chat("my turn", 4);
  waiting["stream"] = true;
  std::string body;
  std::thread waiter([&] { body = test::RawExchange(server.port(), test::RawPost(waiting), "data: [DONE]"); });
  const bool queued = WaitForMetric(c, "glmv_queue_depth", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few ping intervals in the queue
  release.set_value();  // the holder hangs up: the slot frees, the waiting request runs
  holder.join();
  waiter.join();
  CHECK(busy);
  CHECK(queued);
  const size_t first_ping = body.find(": ping\n\n");
  const size_t first_data = body.find("data: ");
  REQUIRE(first_ping != std::string::npos);
  REQUIRE(first_data != std::string::npos);
  CHECK(first_ping < first_data);
  size_t pings = 0;
  for (size_t at = body.find(": ping\n\n"); at != std::string::npos && at < first_data; at = body.find(": ping\n\n", at + 1)) ++pings;
  MESSAGE(pings << " pings before the first chunk");
  CHECK(pings >= 2);
  CHECK(body.find("data: [DONE]") != std::string::npos);
  CHECK(server.running());
}

TEST_CASE("serve: /metrics counts one vision encode for an image sent twice; the repeat is a prompt-cache hit") {
  test::ServeProcess server({"-m", kTiny});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(300, 0);  // a loaded machine runs the first request (and its warm-up) slowly
  CHECK(Metric(c, "glmv_vision_images_encoded_total") == 0);
  json req = Chat("");
  const std::string question = "What is this?";
  req["messages"][0]["content"] = {{{"type", "image_url"}, {"image_url", {{"url", test::PngDataUrl()}}}},
                                   {{"type", "text"}, {"text", question}}};
  const Answer first = Post(c, req.dump());
  REQUIRE(first.status == 200);
  CHECK(Metric(c, "glmv_vision_images_encoded_total") == 1);
  const double hits = Metric(c, "glmv_prompt_cache_hits_total");
  const Answer again = Post(c, req.dump());
  REQUIRE(again.status == 200);
  CHECK(Metric(c, "glmv_vision_images_encoded_total") == 1);  // reused, not encoded again
  CHECK(Metric(c, "glmv_images_total") == 2);                 // both requests had it
  CHECK(Metric(c, "glmv_prompt_cache_hits_total") == hits + 1);
  // Cached at least through the image's last token (<|end_of_image|>): all but the text after it.
  const int prompt = again.body["usage"]["prompt_tokens"];
  const int after_image = static_cast<int>(Tiny().Encode(question + "/nothink<|assistant|>\n<think></think>\n").size());
  const int cached = again.body["usage"]["prompt_tokens_details"]["cached_tokens"];
  MESSAGE("prompt " << prompt << " tokens, " << after_image << " after the image; cached " << cached);
  CHECK(cached >= prompt - after_image);
  CHECK(test::WaitForMetric(c, "glmv_slots_active", 0));
  CHECK(Metric(c, "glmv_queue_depth") == 0);
  // Requests by status (counted once an answer is sent, so possibly just after the client has it).
  CHECK(test::WaitForMetric(c, "glmv_requests_total{path=\"/v1/chat/completions\",status=\"200\"}", 2));
}

}  // namespace
}  // namespace glmv
