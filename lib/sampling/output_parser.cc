#include "lib/sampling/output_parser.h"

#include <cctype>
#include <cstdlib>

namespace glmv {
namespace {

constexpr std::string_view kBoxBegin = "<|begin_of_box|>", kBoxEnd = "<|end_of_box|>";
constexpr const char* kWhitespace = " \t\n\r\f\v";

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(kWhitespace) - b + 1));
}

// Reads a box body such as "[100, 200, 500, 800]", "[[1,2,3,4]]", "(1,2,3,4)" or "<1 2 3 4>": exactly four
// numbers separated by commas/spaces inside brackets. Anything else is not a box.
bool ParseBoxBody(std::string_view body, std::array<double, 4>& out) {
  std::string s(body);
  size_t count = 0;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+') {
      char* end = nullptr;
      const double v = std::strtod(s.c_str() + i, &end);
      if (end == s.c_str() + i) return false;
      if (count == 4) return false;
      out[count++] = v;
      i = static_cast<size_t>(end - s.c_str());
    } else if (c == '[' || c == ']' || c == '(' || c == ')' || c == '<' || c == '>' || c == ',' ||
               std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else {
      return false;
    }
  }
  return count == 4;
}

}  // namespace

std::vector<GroundingBox> ParseBoxes(std::string_view text) {
  std::vector<GroundingBox> boxes;
  size_t pos = 0;
  while ((pos = text.find(kBoxBegin, pos)) != std::string_view::npos) {
    const size_t body = pos + kBoxBegin.size();
    const size_t end = text.find(kBoxEnd, body);
    if (end == std::string_view::npos) break;
    GroundingBox box;
    box.offset = pos;
    if (ParseBoxBody(text.substr(body, end - body), box.normalized)) boxes.push_back(box);
    pos = end + kBoxEnd.size();
  }
  return boxes;
}

std::array<double, 4> BoxToPixels(const GroundingBox& box, double width, double height) {
  const auto& n = box.normalized;
  return {n[0] / 1000.0 * width, n[1] / 1000.0 * height, n[2] / 1000.0 * width, n[3] / 1000.0 * height};
}

ParsedOutput ParseModelOutput(std::string_view text, bool prompt_opened_think) {
  ParsedOutput out;
  std::string_view answer = text;
  const size_t close = text.find("</think>");
  if (close != std::string_view::npos) {
    std::string_view r = text.substr(0, close);
    if (const size_t open = r.find("<think>"); open != std::string_view::npos) r = r.substr(open + 7);
    out.reasoning = Trim(r);
    answer = text.substr(close + 8);
  } else if (const size_t open = text.find("<think>"); open != std::string_view::npos && Trim(text.substr(0, open)).empty()) {
    out.reasoning = Trim(text.substr(open + 7));  // cut off while thinking
    answer = {};
  } else if (prompt_opened_think) {
    out.reasoning = Trim(text);
    answer = {};
  }

  // Tool calls come out of the answer; what is around them is the content.
  std::string content;
  size_t pos = 0;
  while (true) {
    const size_t start = answer.find("<tool_call>", pos);
    const size_t end = start == std::string_view::npos ? start : answer.find("</tool_call>", start);
    if (start == std::string_view::npos || end == std::string_view::npos) {
      content += answer.substr(pos);
      break;
    }
    content += answer.substr(pos, start - pos);
    std::string_view block = answer.substr(start + 11, end - start - 11);
    ParsedToolCall call;
    const size_t first_key = block.find("<arg_key>");
    call.name = Trim(block.substr(0, first_key));
    size_t k = first_key;
    while (k != std::string_view::npos) {
      const size_t key_end = block.find("</arg_key>", k);
      const size_t val = key_end == std::string_view::npos ? key_end : block.find("<arg_value>", key_end);
      const size_t val_end = val == std::string_view::npos ? val : block.find("</arg_value>", val);
      if (val_end == std::string_view::npos) break;
      const std::string key = Trim(block.substr(k + 9, key_end - k - 9));
      const std::string value(block.substr(val + 11, val_end - val - 11));
      // Values the model wrote as JSON (numbers, lists, objects, true/false/null) become JSON; others text.
      auto parsed = nlohmann::ordered_json::parse(value, nullptr, false);
      call.arguments[key] = (parsed.is_discarded() || parsed.is_string()) ? nlohmann::ordered_json(value) : parsed;
      call.raw_arguments.emplace_back(key, value);
      k = block.find("<arg_key>", val_end);
    }
    if (!call.name.empty()) out.tool_calls.push_back(std::move(call));
    pos = end + 12;
  }
  out.content = Trim(content);
  out.boxes = ParseBoxes(out.content);
  return out;
}

}  // namespace glmv
