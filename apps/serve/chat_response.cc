#include "apps/serve/chat_response.h"

namespace glmv::app {

namespace {

using json = nlohmann::ordered_json;

json ToolCallsJson(const std::vector<ParsedToolCall>& calls, const std::string& id) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    out.push_back({{"index", i},
                   {"id", "call_" + id.substr(id.find('-') + 1) + "_" + std::to_string(i)},
                   {"type", "function"},
                   {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments.dump()}}}});
  }
  return out;
}

json BoxesJson(const std::vector<GroundingBox>& boxes, const ChatTask& task) {
  json out = json::array();
  for (const GroundingBox& b : boxes) {
    json pixels = json::array();
    for (const auto& [w, h] : task.image_sizes) {
      const auto p = BoxToPixels(b, w, h);
      pixels.push_back({p[0], p[1], p[2], p[3]});
    }
    out.push_back({{"box", {b.normalized[0], b.normalized[1], b.normalized[2], b.normalized[3]}},
                   {"pixels_per_image", pixels}});
  }
  return out;
}

}  // namespace

const char* OpenAiFinishReason(const GenerateResult& r, bool has_tool_calls) {
  if (has_tool_calls) return "tool_calls";
  switch (r.finish) {
    case FinishReason::kLength:
    case FinishReason::kContextFull: return "length";
    default: return "stop";
  }
}

json UsageJson(const GenerateResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.ids.size()},
          {"total_tokens", r.prompt_tokens + r.ids.size()},
          {"prompt_tokens_details", {{"cached_tokens", r.reused_prompt_tokens}}}};
}

json CompletionJson(const CompletionIds& ids, const ChatTask& task, const GenerateResult& r) {
  const ParsedOutput out = ParseModelOutput(r.text);
  json message = {{"role", "assistant"}};
  message["content"] = out.content.empty() && !out.tool_calls.empty() ? json() : json(out.content);
  if (!out.reasoning.empty()) message["reasoning_content"] = out.reasoning, message["reasoning"] = out.reasoning;
  if (!out.tool_calls.empty()) message["tool_calls"] = ToolCallsJson(out.tool_calls, ids.id);
  if (!out.boxes.empty()) message["glmv_boxes"] = BoxesJson(out.boxes, task);
  return {{"id", ids.id},
          {"object", "chat.completion"},
          {"created", ids.created},
          {"model", ids.model},
          {"choices",
           json::array({{{"index", 0}, {"message", message}, {"logprobs", nullptr},
                         {"finish_reason", OpenAiFinishReason(r, !out.tool_calls.empty())}}})},
          {"usage", UsageJson(r)}};
}

json ChunkJson(const CompletionIds& ids, json delta, const char* finish_reason) {
  return {{"id", ids.id},
          {"object", "chat.completion.chunk"},
          {"created", ids.created},
          {"model", ids.model},
          {"choices", json::array({{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr},
                                    {"finish_reason", finish_reason ? json(finish_reason) : json()}}})}};
}

std::string ChunkStream::Event(const json& j) const {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

std::string ChunkStream::Push(const std::string& text) {
  std::string events;
  if (!started_) {
    started_ = true;
    events += Event(ChunkJson(ids_, {{"role", "assistant"}, {"content", ""}}));
  }
  splitter_.Push(
      text,
      [&](const std::string& r) {
        if (!r.empty()) events += Event(ChunkJson(ids_, {{"reasoning_content", r}, {"reasoning", r}}));
      },
      [&](const std::string& c) {
        if (!c.empty()) events += Event(ChunkJson(ids_, {{"content", c}}));
      });
  return events;
}

std::string ChunkStream::Finish(const ChatTask& task, const GenerateResult& r) {
  std::string events = Push("");
  splitter_.Flush(
      [&](const std::string& x) {
        if (!x.empty()) events += Event(ChunkJson(ids_, {{"reasoning_content", x}, {"reasoning", x}}));
      },
      [&](const std::string& c) {
        if (!c.empty()) events += Event(ChunkJson(ids_, {{"content", c}}));
      });
  const ParsedOutput out = ParseModelOutput(r.text);
  json last = json::object();
  if (!out.tool_calls.empty()) last["tool_calls"] = ToolCallsJson(out.tool_calls, ids_.id);
  if (!out.boxes.empty()) last["glmv_boxes"] = BoxesJson(out.boxes, task);
  events += Event(ChunkJson(ids_, last, OpenAiFinishReason(r, !out.tool_calls.empty())));
  if (task.include_usage) {
    json usage = ChunkJson(ids_, json::object());
    usage["choices"] = json::array();
    usage["usage"] = UsageJson(r);
    events += Event(usage);
  }
  return events + "data: [DONE]\n\n";
}

}  // namespace glmv::app
