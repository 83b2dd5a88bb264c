// What /v1/chat/completions answers, in OpenAI's shapes: the whole completion, or its stream as
// `chat.completion.chunk` objects sent as server-sent events and ended by `data: [DONE]`. The model's
// reasoning comes back as `reasoning_content` (and as `reasoning`, vLLM's newer name), its tool calls as
// `tool_calls`, and its grounding boxes as `glmv_boxes`: each box on the model's 0–1000 scale and in the
// pixels of every input image (an extension; OpenAI's API has no field for it).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/serve/chat_request.h"
#include "lib/sampling/output_parser.h"

namespace glmv::app {

struct CompletionIds {
  std::string id;     // "chatcmpl-…"
  int64_t created = 0;  // Unix seconds
  std::string model;
};

// "stop", "length", "tool_calls" (OpenAI's names); eos and stop strings are both "stop".
const char* OpenAiFinishReason(const GenerateResult& r, bool has_tool_calls);

nlohmann::ordered_json UsageJson(const GenerateResult& r);

// The non-streaming answer.
nlohmann::ordered_json CompletionJson(const CompletionIds& ids, const ChatTask& task, const GenerateResult& r);

// One streamed chunk with `delta` (e.g. {"content": "…"}); finish_reason null unless given.
nlohmann::ordered_json ChunkJson(const CompletionIds& ids, nlohmann::ordered_json delta,
                                 const char* finish_reason = nullptr);

// The stream's text as events: reasoning and answer apart, tags never split across chunks.
class ChunkStream {
 public:
  explicit ChunkStream(CompletionIds ids) : ids_(std::move(ids)) {}
  // "data: {…}\n\n" events for new text (the first call also sends the assistant role).
  std::string Push(const std::string& text);
  // The last events: what was held back, tool calls, the finish reason, usage if asked, then [DONE].
  std::string Finish(const ChatTask& task, const GenerateResult& r);

 private:
  std::string Event(const nlohmann::ordered_json& j) const;
  CompletionIds ids_;
  ReasoningSplitter splitter_;
  bool started_ = false;
};

}  // namespace glmv::app
