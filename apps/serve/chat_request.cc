#include "apps/serve/chat_request.h"

#include <climits>
#include <random>

#include "apps/serve/media_parts.h"
#include "apps/serve/tool_calls.h"
#include "lib/prompt/request_builder.h"

namespace glmv::app {

namespace {

using json = nlohmann::ordered_json;

HttpError Bad(std::string message, std::string param = "") {
  return HttpError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

// A number field within [lo, hi], if present.
std::optional<HttpError> ReadNumber(const json& j, const char* key, double lo, double hi, double& out) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number()) return Bad(std::string("'") + key + "' must be a number", key);
  out = j[key].get<double>();
  if (!(out >= lo && out <= hi)) {
    return Bad(std::string("'") + key + "' must be between " + json(lo).dump() + " and " + json(hi).dump(), key);
  }
  return std::nullopt;
}

std::optional<HttpError> ReadBool(const json& j, const char* key, bool& out) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_boolean()) return Bad(std::string("'") + key + "' must be true or false", key);
  out = j[key].get<bool>();
  return std::nullopt;
}

std::optional<HttpError> ReadInt(const json& j, const char* key, int64_t lo, int64_t hi, std::optional<int64_t>& out) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number_integer()) return Bad(std::string("'") + key + "' must be an integer", key);
  const int64_t v = j[key].is_number_unsigned() && j[key].get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                        ? INT64_MAX
                        : j[key].get<int64_t>();
  if (v < lo || v > hi) {
    return Bad(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi), key);
  }
  out = v;
  return std::nullopt;
}

}  // namespace

json ErrorJson(const HttpError& e) {
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"param", e.param.empty() ? json() : json(e.param)},
            {"code", e.code.empty() ? json() : json(e.code)}}}};
}

std::optional<HttpError> ParseChatRequest(const std::string& body, const ChatModelInfo& info, ChatTask& task) {
  const json j = json::parse(body, nullptr, false);  // refuses invalid UTF-8 too
  if (j.is_discarded()) return Bad("the request body is not valid JSON (or not valid UTF-8)");
  if (!j.is_object()) return Bad("the request body must be a JSON object");
  if (!j.contains("messages")) return Bad("'messages' is required", "messages");
  if (!j["messages"].is_array() || j["messages"].empty()) return Bad("'messages' must be a non-empty array", "messages");
  if (j.contains("model") && !j["model"].is_string()) return Bad("'model' must be a string", "model");
  task.model = j.value("model", std::string());

  if (auto e = ReadBool(j, "stream", task.stream)) return e;
  if (j.contains("stream_options") && !j["stream_options"].is_null()) {
    if (!j["stream_options"].is_object()) return Bad("'stream_options' must be an object", "stream_options");
    if (auto e = ReadBool(j["stream_options"], "include_usage", task.include_usage)) return e;
  }
  std::optional<int64_t> max_tokens, max_completion, seed, n;
  if (auto e = ReadInt(j, "max_tokens", 1, INT64_MAX, max_tokens)) return e;
  if (auto e = ReadInt(j, "max_completion_tokens", 1, INT64_MAX, max_completion)) return e;
  if (auto e = ReadInt(j, "seed", INT64_MIN, INT64_MAX, seed)) return e;
  if (auto e = ReadInt(j, "n", 1, 128, n)) return e;
  task.n = n ? static_cast<size_t>(*n) : 1;
  if (task.n > info.max_choices) {
    return Bad("'n' must be at most " + std::to_string(info.max_choices) + " on this server (one slot per choice: --parallel)", "n");
  }
  SamplingParams& s = task.request.sampling;
  double temperature = 1.0, top_p = 1.0, presence = 0.0, frequency = 0.0;
  if (auto e = ReadNumber(j, "temperature", 0.0, 2.0, temperature)) return e;
  if (auto e = ReadNumber(j, "top_p", 0.0, 1.0, top_p)) return e;
  if (auto e = ReadNumber(j, "presence_penalty", -2.0, 2.0, presence)) return e;
  if (auto e = ReadNumber(j, "frequency_penalty", -2.0, 2.0, frequency)) return e;
  if (top_p <= 0.0) return Bad("'top_p' must be greater than 0", "top_p");
  s.temperature = static_cast<float>(temperature);
  s.top_p = static_cast<float>(top_p);
  s.presence_penalty = static_cast<float>(presence);
  s.frequency_penalty = static_cast<float>(frequency);
  s.top_k = 0, s.min_p = 0.0f;  // OpenAI's sampling has neither
  s.seed = seed ? static_cast<uint64_t>(*seed) : std::random_device{}();
  std::optional<int64_t> top_logprobs;
  if (auto e = ReadBool(j, "logprobs", task.request.logprobs)) return e;
  if (auto e = ReadInt(j, "top_logprobs", 0, 20, top_logprobs)) return e;
  if (top_logprobs && !task.request.logprobs) return Bad("'top_logprobs' needs 'logprobs' set to true", "top_logprobs");
  task.request.top_logprobs = top_logprobs ? static_cast<size_t>(*top_logprobs) : 0;
  if (j.contains("stop") && !j["stop"].is_null()) {
    const json& stop = j["stop"];
    if (stop.is_string()) {
      task.request.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array() && stop.size() <= 4) {
      for (const auto& x : stop) {
        if (!x.is_string() || x.get<std::string>().empty()) return Bad("'stop' must hold non-empty strings", "stop");
        task.request.stop.push_back(x.get<std::string>());
      }
    } else {
      return Bad("'stop' must be a string or an array of at most 4 strings", "stop");
    }
  }
  if (j.contains("response_format") && !j["response_format"].is_null()) {
    const json& rf = j["response_format"];
    if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string()) {
      return Bad("'response_format' must be an object with a 'type'", "response_format");
    }
    const std::string type = rf["type"].get<std::string>();
    if (type == "json_object") {
      task.grammar = JsonObjectGrammar();
    } else if (type == "json_schema") {
      if (!rf.contains("json_schema") || !rf["json_schema"].is_object() || !rf["json_schema"].contains("schema") ||
          !rf["json_schema"]["schema"].is_object()) {
        return Bad("response_format.json_schema.schema must be an object", "response_format");
      }
      const json& js = rf["json_schema"];
      JsonSchemaOptions options;
      if (auto e = ReadBool(js, "strict", options.strict)) return e;
      if (!info.grammars) return Bad("response_format is not available on this server", "response_format");
      auto grammar = info.grammars->JsonSchema(js["schema"], options);
      if (!grammar.ok()) return Bad("response_format.json_schema.schema: " + grammar.status().message(), "response_format");
      task.grammar = std::move(grammar).value();
    } else if (type != "text") {
      return Bad("response_format type '" + type + "' is not one of text, json_object, json_schema", "response_format");
    }
  }
  ChatOptions chat;
  if (j.contains("chat_template_kwargs") && !j["chat_template_kwargs"].is_null()) {
    const json& kw = j["chat_template_kwargs"];
    if (!kw.is_object()) return Bad("'chat_template_kwargs' must be an object", "chat_template_kwargs");
    if (auto e = ReadBool(kw, "enable_thinking", task.thinking)) return e;
  }
  chat.enable_thinking = task.thinking;
  if (auto e = ParseTools(j, info, task, chat)) return e;

  if (auto shape = ChatMessagesFromJson(MediaPlaceholders(j["messages"])); !shape.ok()) {
    return Bad(shape.status().message(), "messages");
  }
  MediaParts parts;
  if (auto e = LoadMediaParts(j["messages"], info, parts)) return e;
  task.image_sizes = std::move(parts.image_sizes);
  auto messages = ChatMessagesFromJson(parts.messages);
  if (!messages.ok()) return Bad(messages.status().message(), "messages");
  if (!info.tokenizer) return HttpError{500, "the model has no tokenizer", "server_error", "", ""};
  auto built = BuildRequestPrompt(*info.config, *info.tokenizer, *messages, chat, std::move(parts.media));
  if (!built.ok()) return Bad(built.status().message(), "messages");
  const size_t prompt = built->ids.size();
  if (prompt >= info.context_tokens) {
    return HttpError{400,
                     "the prompt is " + std::to_string(prompt) + " tokens; the context holds " +
                         std::to_string(info.context_tokens) + " (the server's --ctx, at most the model's)",
                     "invalid_request_error", "messages", "context_length_exceeded"};
  }
  const size_t room = info.context_tokens - prompt;
  const int64_t asked = max_completion ? *max_completion : max_tokens ? *max_tokens : static_cast<int64_t>(room);
  task.request.max_tokens = std::min(room, static_cast<size_t>(asked));
  task.request.prompt = std::move(built->ids);
  task.request.visual = std::move(built->visual);
  return std::nullopt;
}

}  // namespace glmv::app
