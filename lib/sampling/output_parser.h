// Parsing what GLM-4.5V writes (spec §5.4): `<think>…</think>` reasoning, the answer, grounding boxes
// `<|begin_of_box|>[x1, y1, x2, y2]<|end_of_box|>` (0–1000 normalised; any bracket style) and XML tool calls
// `<tool_call>name<arg_key>k</arg_key><arg_value>v</arg_value></tool_call>`. Malformed pieces stay text.
#pragma once

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glmv {

struct GroundingBox {
  std::array<double, 4> normalized{};  // x1, y1, x2, y2 on the model's 0–1000 scale
  size_t offset = 0;                   // byte offset of <|begin_of_box|> in the answer
};

struct ParsedToolCall {
  std::string name;
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();  // JSON-looking values parsed, else strings
  std::vector<std::pair<std::string, std::string>> raw_arguments;       // key, value as written, in order
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

namespace glmv {

// Splits streamed output into reasoning and answer as it arrives: text inside <think>…</think> goes to
// on_reasoning, the rest to on_content. Tags split across pieces are held back until they are complete.
class ReasoningSplitter {
 public:
  template <typename R, typename C>
  void Push(const std::string& piece, R&& on_reasoning, C&& on_content) {
    buffer_ += piece;
    while (!buffer_.empty()) {
      const std::string_view tag = in_think_ ? "</think>" : "<think>";
      const size_t at = buffer_.find(tag);
      if (at != std::string::npos) {
        Send(buffer_.substr(0, at), on_reasoning, on_content);
        buffer_.erase(0, at + tag.size());
        in_think_ = !in_think_;
        continue;
      }
      // Keep a possible partial tag at the end.
      size_t hold = 0;
      for (size_t len = std::min(tag.size() - 1, buffer_.size()); len > 0; --len) {
        if (buffer_.compare(buffer_.size() - len, len, tag, 0, len) == 0) {
          hold = len;
          break;
        }
      }
      Send(buffer_.substr(0, buffer_.size() - hold), on_reasoning, on_content);
      buffer_.erase(0, buffer_.size() - hold);
      break;
    }
  }
  template <typename R, typename C>
  void Flush(R&& on_reasoning, C&& on_content) {
    Send(buffer_, on_reasoning, on_content);
    buffer_.clear();
  }
  bool in_reasoning() const { return in_think_; }

 private:
  template <typename R, typename C>
  void Send(const std::string& text, R& on_reasoning, C& on_content) {
    if (text.empty()) return;
    if (in_think_) on_reasoning(text);
    else on_content(text);
  }
  std::string buffer_;
  bool in_think_ = false;
};

}  // namespace glmv
