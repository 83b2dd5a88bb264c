#include <doctest/doctest.h>

#include "lib/sampling/output_parser.h"

namespace glmv {
namespace {

TEST_CASE("thinking and answer are split") {
  auto p = ParseModelOutput("<think>\nLet me look.\n</think>\nA cat.");
  CHECK(p.reasoning == "Let me look.");
  CHECK(p.content == "A cat.");
  auto plain = ParseModelOutput("Just an answer.");
  CHECK(plain.reasoning.empty());
  CHECK(plain.content == "Just an answer.");
  auto cut = ParseModelOutput("<think>still thinking");
  CHECK(cut.reasoning == "still thinking");
  CHECK(cut.content.empty());
  auto empty_think = ParseModelOutput("<think></think>\nDirect.");
  CHECK(empty_think.reasoning.empty());
  CHECK(empty_think.content == "Direct.");
}

TEST_CASE("boxes: 0-1000 coordinates to pixels, any bracket style, malformed left as text") {
  auto p = ParseModelOutput("The dog is at <|begin_of_box|>[100, 200, 500, 800]<|end_of_box|>.");
  REQUIRE(p.boxes.size() == 1);
  const auto px = BoxToPixels(p.boxes[0], 1000, 500);
  CHECK(px[0] == doctest::Approx(100));
  CHECK(px[1] == doctest::Approx(100));
  CHECK(px[2] == doctest::Approx(500));
  CHECK(px[3] == doctest::Approx(400));
  CHECK(p.content.find("<|begin_of_box|>[100, 200, 500, 800]<|end_of_box|>") != std::string::npos);

  for (const char* body : {"[[1,2,3,4]]", "(1, 2, 3, 4)", "<1 2 3 4>", "[1.5,2,3,4]"}) {
    const auto boxes = ParseBoxes(std::string("<|begin_of_box|>") + body + "<|end_of_box|>");
    REQUIRE_MESSAGE(boxes.size() == 1, body);
    CHECK(boxes[0].normalized[2] == 3);
  }
  for (const char* bad : {"<|begin_of_box|>[1, 2, 3]<|end_of_box|>", "<|begin_of_box|>[1,2,3,4,5]<|end_of_box|>",
                          "<|begin_of_box|>cat<|end_of_box|>", "<|begin_of_box|>[1,2,3,4]", "<|begin_of_box|>",
                          "<|end_of_box|>[1,2,3,4]", "<|begin_of_box|>[1,,2x,3,4]<|end_of_box|>"}) {
    auto q = ParseModelOutput(bad);
    CHECK_MESSAGE(q.boxes.empty(), bad);
    CHECK(q.content == bad);  // untouched text
  }
  CHECK(ParseBoxes("<|begin_of_box|>[1,2,3,4]<|end_of_box|> and <|begin_of_box|>[5,6,7,8]<|end_of_box|>").size() == 2);
}

TEST_CASE("tool calls are parsed out of the answer") {
  auto p = ParseModelOutput(
      "<think>need weather</think>Checking.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Zürich</arg_value>\n"
      "<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n<arg_key>units</arg_key>\n<arg_value>[\"C\"]</arg_value>\n</tool_call>");
  CHECK(p.reasoning == "need weather");
  CHECK(p.content == "Checking.");
  REQUIRE(p.tool_calls.size() == 1);
  CHECK(p.tool_calls[0].name == "get_weather");
  CHECK(p.tool_calls[0].arguments["city"] == "Zürich");
  CHECK(p.tool_calls[0].arguments["days"] == 2);
  CHECK(p.tool_calls[0].arguments["units"][0] == "C");
  auto unterminated = ParseModelOutput("<tool_call>f\n<arg_key>a</arg_key>");
  CHECK(unterminated.tool_calls.empty());
  CHECK(unterminated.content == "<tool_call>f\n<arg_key>a</arg_key>");
}

}  // namespace
}  // namespace glmv

namespace glmv {
namespace {

TEST_CASE("streamed output splits into reasoning and answer even when tags arrive in pieces") {
  for (size_t chunk : {1, 2, 3, 5, 100}) {
    const std::string text = "<think>\nweigh it</think>\nThe answer <b>is</b> 4.";
    ReasoningSplitter split;
    std::string reasoning, content;
    auto r = [&](const std::string& s) { reasoning += s; };
    auto c = [&](const std::string& s) { content += s; };
    for (size_t i = 0; i < text.size(); i += chunk) split.Push(text.substr(i, chunk), r, c);
    split.Flush(r, c);
    CHECK_MESSAGE(reasoning == "\nweigh it", chunk);
    CHECK_MESSAGE(content == "\nThe answer <b>is</b> 4.", chunk);
  }
}

}  // namespace
}  // namespace glmv
