// A chat completion streamed as server-sent events in OpenAI's format: `chat.completion.chunk` objects,
// each for one choice (`index`), ended by `data: [DONE]`. Per choice: a first chunk with the assistant role,
// then reasoning (`reasoning_content` and `reasoning`) and content apart, tags never split across chunks;
// tool calls as `delta.tool_calls` (first the id, type and name with empty arguments, then the arguments
// as one JSON string), never as content; the log-probabilities of its new tokens on its next chunk; a last
// chunk with its finish reason (and `glmv_boxes`). After every choice, usage when asked, then [DONE].
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/serve/chat_response.h"
#include "apps/serve/reply.h"
#include "apps/serve/tool_calls.h"

namespace glmv::app {

class ChatStream {
 public:
  ChatStream(CompletionIds ids, const ChatTask& task, const Tokenizer* tokenizer);

  // The events for the news of a Reply::Take (consumed: its text and log-probabilities are cleared) and the
  // last chunk of each choice that finished.
  std::string Push(std::vector<ChoiceNews>& news, const Reply& reply);
  // Usage (with stream_options.include_usage) and `data: [DONE]`, once every choice finished.
  std::string End(const Reply& reply) const;

 private:
  struct Choice {
    ReasoningSplitter reasoning;
    ToolCallSplitter tools;
    std::vector<TokenLogprob> logprobs;  // not yet sent
    size_t calls = 0;                    // tool calls sent
    bool started = false, done = false;
  };
  // A chunk of choice c; carries c's log-probabilities not yet sent.
  void Chunk(size_t c, nlohmann::ordered_json delta, std::string& events, const char* finish_reason = nullptr);
  void Text(size_t c, const std::string& text, std::string& events);
  // A tool call of choice c: its head (id, type, name) and then its arguments.
  void Call(size_t c, const ParsedToolCall& call, std::string& events);
  void Finish(size_t c, const GenerateResult& r, std::string& events);

  CompletionIds ids_;
  const ChatTask& task_;
  const Tokenizer* tokenizer_;
  std::vector<Choice> choices_;
};

// "data: {…}\n\n"
std::string SseEvent(const nlohmann::ordered_json& j);

}  // namespace glmv::app
