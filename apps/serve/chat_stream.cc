#include "apps/serve/chat_stream.h"

#include "apps/serve/logprobs_json.h"

namespace glmv::app {

using json = nlohmann::ordered_json;

std::string SseEvent(const json& j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

ChatStream::ChatStream(CompletionIds ids, const ChatTask& task, const Tokenizer* tokenizer)
    : ids_(std::move(ids)), task_(task), tokenizer_(tokenizer), choices_(std::max<size_t>(task.n, 1)) {}

void ChatStream::Chunk(size_t c, json delta, std::string& events, const char* finish_reason) {
  Choice& ch = choices_[c];
  json logprobs;
  if (task_.request.logprobs && (!ch.logprobs.empty() || finish_reason)) {
    logprobs = LogprobsJson(ch.logprobs, tokenizer_);
    ch.logprobs.clear();
  }
  events += SseEvent(ChunkJson(ids_, c, std::move(delta), finish_reason, std::move(logprobs)));
}

void ChatStream::Text(size_t c, const std::string& text, std::string& events) {
  Choice& ch = choices_[c];
  auto on_reasoning = [&](const std::string& r) {
    if (!r.empty()) Chunk(c, {{"reasoning_content", r}, {"reasoning", r}}, events);
  };
  auto on_content = [&](const std::string& t) {
    if (!t.empty()) Chunk(c, {{"content", t}}, events);
  };
  auto on_call = [&](const ParsedToolCall& call) { Call(c, call, events); };
  ch.reasoning.Push(text, on_reasoning, [&](const std::string& t) { ch.tools.Push(t, on_content, on_call); });
}

void ChatStream::Call(size_t c, const ParsedToolCall& call, std::string& events) {
  const size_t i = choices_[c].calls++;
  const json whole = ToolCallJson(call, ToolCallId(ids_.id, c, i), task_.functions);
  json head = {{"index", i}};
  head.update(whole);
  head["function"]["arguments"] = "";
  Chunk(c, {{"tool_calls", json::array({head})}}, events);
  Chunk(c, {{"tool_calls", json::array({{{"index", i}, {"function", {{"arguments", whole["function"]["arguments"]}}}}})}}, events);
}

void ChatStream::Finish(size_t c, const GenerateResult& r, std::string& events) {
  Choice& ch = choices_[c];
  auto on_content = [&](const std::string& t) {
    if (!t.empty()) Chunk(c, {{"content", t}}, events);
  };
  ch.reasoning.Flush(
      [&](const std::string& x) {
        if (!x.empty()) Chunk(c, {{"reasoning_content", x}, {"reasoning", x}}, events);
      },
      [&](const std::string& t) { ch.tools.Push(t, on_content, [&](const ParsedToolCall& call) { Call(c, call, events); }); });
  ch.tools.Flush(on_content);
  json last = json::object();
  const ParsedOutput out = ParseModelOutput(r.text);
  if (!out.boxes.empty()) last["glmv_boxes"] = BoxesJson(out.boxes, task_);
  Chunk(c, std::move(last), events, OpenAiFinishReason(r, ch.calls > 0));
  ch.done = true;
}

std::string ChatStream::Push(std::vector<ChoiceNews>& news, const Reply& reply) {
  std::string events;
  for (size_t c = 0; c < news.size() && c < choices_.size(); ++c) {
    Choice& ch = choices_[c];
    ChoiceNews& n = news[c];
    if (ch.done) continue;
    // A choice's first chunk waits for its first news: until then a waiting stream sends nothing (but pings).
    if (n.text.empty() && n.logprobs.empty() && !n.finished) continue;
    if (!ch.started) {
      ch.started = true;
      Chunk(c, {{"role", "assistant"}, {"content", ""}}, events);
    }
    for (TokenLogprob& t : n.logprobs) ch.logprobs.push_back(std::move(t));
    n.logprobs.clear();
    Text(c, n.text, events);
    n.text.clear();
    if (n.finished) Finish(c, reply.result(c), events);
  }
  return events;
}

std::string ChatStream::End(const Reply& reply) const {
  std::string events;
  if (task_.include_usage) {
    json usage = ChunkJson(ids_, 0, json::object());
    usage["choices"] = json::array();
    usage["usage"] = UsageJson(reply.results());
    events += SseEvent(usage);
  }
  return events + "data: [DONE]\n\n";
}

}  // namespace glmv::app
