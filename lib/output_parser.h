// Parsing what GLM-4.5V writes (spec §5.4): `<think>…</think>` reasoning, the answer, grounding boxes
// `<|begin_of_box|>[x1, y1, x2, y2]<|end_of_box|>` (0–1000 normalised; any bracket style) and XML tool calls
// `<tool_call>name<arg_key>k</arg_key><arg_value>v</arg_value></tool_call>`. Malformed pieces stay text.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace glmv {

struct GroundingBox {
  std::array<double, 4> normalized{};  // x1, y1, x2, y2 on the model's 0–1000 scale
  size_t offset = 0;                   // byte offset of <|begin_of_box|> in the answer
};

struct ParsedToolCall {
  std::string name;
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();  // JSON-looking values parsed, else strings
};

struct ParsedOutput {
  std::string reasoning;  // inside <think>…</think> (trimmed)
  std::string content;    // the answer, tool-call blocks removed, box markers kept as written
  std::vector<GroundingBox> boxes;
  std::vector<ParsedToolCall> tool_calls;
};

// Splits reasoning from the answer and extracts boxes and tool calls. `prompt_opened_think`: the prompt
// already ended inside a think block (not the case for GLM-4.5V's template), so the text starts as reasoning.
ParsedOutput ParseModelOutput(std::string_view text, bool prompt_opened_think = false);

// Every well-formed box in `text`, in order.
std::vector<GroundingBox> ParseBoxes(std::string_view text);

// A box's corners in pixels of an image `width` × `height`: value / 1000 × size.
std::array<double, 4> BoxToPixels(const GroundingBox& box, double width, double height);

}  // namespace glmv
