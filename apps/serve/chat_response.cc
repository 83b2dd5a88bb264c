#include "apps/serve/chat_response.h"

#include "apps/serve/logprobs_json.h"
#include "apps/serve/tool_calls.h"

namespace glmv::app {

using json = nlohmann::ordered_json;

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

const char* OpenAiFinishReason(const GenerateResult& r, bool has_tool_calls) {
  if (has_tool_calls) return "tool_calls";
  switch (r.finish) {
    case FinishReason::kLength:
    case FinishReason::kContextFull: return "length";
    default: return "stop";
  }
}

json UsageJson(std::span<const GenerateResult> results) {
  size_t completion = 0;
  for (const GenerateResult& r : results) completion += r.ids.size();
  const size_t prompt = results.empty() ? 0 : results[0].prompt_tokens;
  const size_t cached = results.empty() ? 0 : results[0].reused_prompt_tokens;
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

json CompletionJson(const CompletionIds& ids, const ChatTask& task, std::span<const GenerateResult> results,
                    const Tokenizer* tokenizer) {
  json choices = json::array();
  for (size_t c = 0; c < results.size(); ++c) {
    const GenerateResult& r = results[c];
    const ParsedOutput out = ParseModelOutput(r.text);
    json message = {{"role", "assistant"}};
    message["content"] = out.content.empty() && !out.tool_calls.empty() ? json() : json(out.content);
    if (!out.reasoning.empty()) message["reasoning_content"] = out.reasoning, message["reasoning"] = out.reasoning;
    if (!out.tool_calls.empty()) {
      json calls = json::array();
      for (size_t i = 0; i < out.tool_calls.size(); ++i) {
        calls.push_back(ToolCallJson(out.tool_calls[i], ToolCallId(ids.id, c, i), task.functions));
      }
      message["tool_calls"] = std::move(calls);
    }
    if (!out.boxes.empty()) message["glmv_boxes"] = BoxesJson(out.boxes, task);
    choices.push_back({{"index", c},
                       {"message", std::move(message)},
                       {"logprobs", task.request.logprobs ? LogprobsJson(r.logprobs, tokenizer) : json()},
                       {"finish_reason", OpenAiFinishReason(r, !out.tool_calls.empty())}});
  }
  return {{"id", ids.id},
          {"object", "chat.completion"},
          {"created", ids.created},
          {"model", ids.model},
          {"choices", std::move(choices)},
          {"usage", UsageJson(results)}};
}

json ChunkJson(const CompletionIds& ids, size_t index, json delta, const char* finish_reason, json logprobs) {
  return {{"id", ids.id},
          {"object", "chat.completion.chunk"},
          {"created", ids.created},
          {"model", ids.model},
          {"choices", json::array({{{"index", index}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)},
                                    {"finish_reason", finish_reason ? json(finish_reason) : json()}}})}};
}

}  // namespace glmv::app
