// What /v1/chat/completions answers without streaming, in OpenAI's shape, and the pieces the stream's
// chunks share (chat_stream.h). The model's reasoning comes back as `reasoning_content` (and as `reasoning`,
// vLLM's newer name), its tool calls as `tool_calls`, its grounding boxes as `glmv_boxes`: each box on the
// model's 0–1000 scale and in the pixels of every input image (an extension; OpenAI's API has no field for
// it). With `n`, `choices` holds n entries, index 0..n-1; with `logprobs`, each has its `logprobs` object.
#pragma once

#include <cstdint>
#include <span>
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

// The request's usage: its prompt once (with choice 0's cached tokens: the other choices share its prompt by
// forking), the completion tokens of every choice summed.
nlohmann::ordered_json UsageJson(std::span<const GenerateResult> results);

// `glmv_boxes`: each box of `boxes` on the 0–1000 scale and in pixels of every image of the request.
nlohmann::ordered_json BoxesJson(const std::vector<GroundingBox>& boxes, const ChatTask& task);

// The non-streaming answer, one choice per result.
nlohmann::ordered_json CompletionJson(const CompletionIds& ids, const ChatTask& task,
                                      std::span<const GenerateResult> results, const Tokenizer* tokenizer);

// One streamed chunk of choice `index` with `delta` (e.g. {"content": "…"}); finish_reason and logprobs null
// unless given.
nlohmann::ordered_json ChunkJson(const CompletionIds& ids, size_t index, nlohmann::ordered_json delta,
                                 const char* finish_reason = nullptr,
                                 nlohmann::ordered_json logprobs = nlohmann::ordered_json());

}  // namespace glmv::app
