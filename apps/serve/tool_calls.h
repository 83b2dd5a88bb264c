// OpenAI's tools on GLM-4.5V: `tools` go to the chat template (which lists them for the model), and
// `tool_choice` picks how the answer may use them: "auto" (the model decides), "none" (the tools are left
// out of the prompt), "required" (the answer is one or more calls of any of them; exactly one with
// `parallel_tool_calls: false`) or
// {"type": "function", "function": {"name": X}} (the answer is one call of X). The last two are forced by
// the tool-call grammar (lib/sampling/tool_call_grammar.h) through the same token constraint as
// response_format. Calls come back as `tool_calls` (OpenAI's shape, arguments as a JSON string); in a
// stream as `delta.tool_calls` chunks, and their GLM text (<tool_call>…</tool_call>) never as content.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/serve/chat_request.h"
#include "lib/prompt/chat_template.h"
#include "lib/sampling/output_parser.h"
#include "lib/sampling/tool_call_grammar.h"

namespace glmv::app {

// Reads `tools` and `tool_choice` of request `j` into task.functions, task.grammar (forced calls) and
// chat.tools (the template's list). Errors: a malformed tool or choice, a named function not in `tools`,
// "required" without tools, a parameters schema outside the supported subset, response_format beside a
// forced call.
std::optional<HttpError> ParseTools(const nlohmann::ordered_json& j, const ChatModelInfo& info, ChatTask& task,
                                    ChatOptions& chat);

// "call_<request>_<choice>_<index>": unique within the server's run.
std::string ToolCallId(const std::string& completion_id, size_t choice, size_t index);

// One entry of a message's `tool_calls`: {id, type: "function", function: {name, arguments}}, the arguments
// a JSON string typed by the function's schema (ToolCallArguments). A stream's delta.tool_calls entries
// also carry their `index` (the call's place in the message).
nlohmann::ordered_json ToolCallJson(const ParsedToolCall& call, const std::string& id, std::span<const ToolFunction> functions);

// Splits a choice's answer as it streams into content and tool calls: the text of a <tool_call>…</tool_call>
// block is held until the block closes, then becomes a call; a tag split across pieces is held until it is
// complete. Like ParseModelOutput, an unclosed block is content in the end, and content is trimmed: white
// space is held until more content follows it (none at the start, none at the end).
class ToolCallSplitter {
 public:
  using ContentSink = std::function<void(const std::string&)>;
  using CallSink = std::function<void(const ParsedToolCall&)>;
  void Push(const std::string& piece, const ContentSink& on_content, const CallSink& on_call);
  void Flush(const ContentSink& on_content);

 private:
  void Content(const std::string& text, const ContentSink& on_content);

  std::string buffer_;
  std::string space_;  // white space held back
  bool in_call_ = false;
  bool any_content_ = false;
};

}  // namespace glmv::app
