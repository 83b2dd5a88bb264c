#include "apps/serve/tool_calls.h"

#include <algorithm>

namespace glmv::app {

namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";

HttpError Bad(std::string message, std::string param) {
  return HttpError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

// The length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t PartialTag(const std::string& text, std::string_view tag) {
  for (size_t len = std::min(tag.size() - 1, text.size()); len > 0; --len) {
    if (text.compare(text.size() - len, len, tag.data(), len) == 0) return len;
  }
  return 0;
}

}  // namespace

std::optional<HttpError> ParseTools(const json& j, const ChatModelInfo& info, ChatTask& task, ChatOptions& chat) {
  if (j.contains("tools") && !j["tools"].is_null()) {
    if (!j["tools"].is_array()) return Bad("'tools' must be an array", "tools");
    auto functions = ToolFunctionsFromJson(j["tools"]);
    if (!functions.ok()) return Bad(functions.status().message(), "tools");
    task.functions = std::move(functions).value();
    chat.tools = j["tools"];
  }
  if (!j.contains("tool_choice") || j["tool_choice"].is_null() || j["tool_choice"] == "auto") return std::nullopt;
  const json& tc = j["tool_choice"];
  if (tc == "none") {
    chat.tools = json::array();
    return std::nullopt;
  }
  bool parallel = true;  // parallel_tool_calls: false asks for one call at most
  if (j.contains("parallel_tool_calls") && !j["parallel_tool_calls"].is_null()) {
    if (!j["parallel_tool_calls"].is_boolean()) return Bad("'parallel_tool_calls' must be true or false", "parallel_tool_calls");
    parallel = j["parallel_tool_calls"].get<bool>();
  }
  std::vector<ToolFunction> forced;
  const bool many = tc == "required" && parallel;
  if (tc == "required") {
    if (task.functions.empty()) return Bad("tool_choice \"required\" needs a non-empty 'tools'", "tool_choice");
    forced = task.functions;
  } else if (tc.is_object() && tc.value("type", std::string()) == "function" && tc.contains("function") &&
             tc["function"].is_object() && tc["function"].contains("name") && tc["function"]["name"].is_string()) {
    const std::string name = tc["function"]["name"].get<std::string>();
    const auto f = std::find_if(task.functions.begin(), task.functions.end(), [&](const ToolFunction& x) { return x.name == name; });
    if (f == task.functions.end()) return Bad("tool_choice names the function '" + name + "', which is not in 'tools'", "tool_choice");
    forced = {*f};
  } else {
    return Bad("'tool_choice' must be \"none\", \"auto\", \"required\" or "
               "{\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
  }
  if (task.grammar) return Bad("a forced tool call (tool_choice) cannot be combined with response_format", "tool_choice");
  if (!info.grammars) return Bad("forced tool calls are not available on this server", "tool_choice");
  json key = json::array();
  for (const ToolFunction& f : forced) key.push_back({f.name, f.parameters, f.strict});
  auto grammar = info.grammars->Get((many ? "tool_calls:" : "tool_call:") + key.dump(),
                                    [&] { return CompileToolCallGrammar(forced, many); });
  if (!grammar.ok()) return Bad(grammar.status().message(), "tools");
  task.grammar = std::move(grammar).value();
  if (info.tokenizer) task.text_tokens = ToolCallTextTokens(*info.tokenizer);
  return std::nullopt;
}

std::string ToolCallId(const std::string& completion_id, size_t choice, size_t index) {
  return "call_" + completion_id.substr(completion_id.find('-') + 1) + "_" + std::to_string(choice) + "_" + std::to_string(index);
}

json ToolCallJson(const ParsedToolCall& call, const std::string& id, std::span<const ToolFunction> functions) {
  return {{"id", id},
          {"type", "function"},
          {"function", {{"name", call.name}, {"arguments", ToolCallArguments(call, functions).dump()}}}};
}

void ToolCallSplitter::Content(const std::string& text, const ContentSink& on_content) {
  const size_t last = text.find_last_not_of(" \t\n\r\f\v");
  if (last == std::string::npos) {  // white space only: held until content follows
    if (any_content_) space_ += text;
    return;
  }
  std::string out = std::move(space_);
  space_.clear();
  size_t from = 0;
  if (!any_content_) from = text.find_first_not_of(" \t\n\r\f\v");
  out.append(text, from, last + 1 - from);
  space_ = text.substr(last + 1);
  any_content_ = true;
  on_content(out);
}

void ToolCallSplitter::Push(const std::string& piece, const ContentSink& on_content, const CallSink& on_call) {
  buffer_ += piece;
  for (;;) {
    if (!in_call_) {
      const size_t at = buffer_.find(kOpen);
      if (at == std::string::npos) {
        const size_t hold = PartialTag(buffer_, kOpen);
        Content(buffer_.substr(0, buffer_.size() - hold), on_content);
        buffer_.erase(0, buffer_.size() - hold);
        return;
      }
      Content(buffer_.substr(0, at), on_content);
      buffer_.erase(0, at + kOpen.size());
      in_call_ = true;
    }
    const size_t end = buffer_.find(kClose);
    if (end == std::string::npos) return;
    const ParsedOutput parsed = ParseModelOutput(std::string(kOpen) + buffer_.substr(0, end + kClose.size()));
    for (const ParsedToolCall& call : parsed.tool_calls) on_call(call);
    buffer_.erase(0, end + kClose.size());
    in_call_ = false;
  }
}

void ToolCallSplitter::Flush(const ContentSink& on_content) {
  Content(in_call_ ? std::string(kOpen) + buffer_ : buffer_, on_content);
  buffer_.clear();
  in_call_ = false;
}

}  // namespace glmv::app
