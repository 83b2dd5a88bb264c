// The answer's JSON (apps/serve/chat_response): grounding boxes come back in the `glmv_boxes` extension field as
// the model's 0-1000 coordinates and in pixels of every input picture, beside the text that still carries them;
// finish reasons map as the OpenAI API defines them.
#include <doctest/doctest.h>

#include <vector>

#include "apps/serve/chat_response.h"

namespace glmv::app {
namespace {

GenerateResult Generated(const std::string& text, FinishReason finish) {
  GenerateResult r;
  r.text = text;
  r.ids = {1, 2, 3};
  r.finish = finish;
  r.prompt_tokens = 40;
  return r;
}

TEST_CASE("glmv_boxes: each box in the model's 0-1000 grid and in pixels of each image, in order") {
  ChatTask task;
  task.image_sizes = {{1000, 500}, {640, 480}};
  const std::vector<GenerateResult> results = {
      Generated("The cat <|begin_of_box|>[[100, 200, 300, 400]]<|end_of_box|> and the dog "
             "<|begin_of_box|>[0,0,1000,1000]<|end_of_box|>.",
             FinishReason::kStop)};
  const auto j = CompletionJson({"chatcmpl-1", 0, "m"}, task, results, nullptr);
  const auto& message = j["choices"][0]["message"];
  REQUIRE(message.contains("glmv_boxes"));
  const auto& boxes = message["glmv_boxes"];
  REQUIRE(boxes.size() == 2);
  CHECK(boxes[0]["box"] == nlohmann::ordered_json::array({100, 200, 300, 400}));
  const auto& first = boxes[0]["pixels_per_image"];
  REQUIRE(first.size() == 2);
  CHECK(first[0] == nlohmann::ordered_json::array({100.0, 100.0, 300.0, 200.0}));  // 1000 × 500
  CHECK(first[1][0].get<double>() == doctest::Approx(64.0));                        // 640 × 480
  CHECK(first[1][1].get<double>() == doctest::Approx(96.0));
  CHECK(first[1][2].get<double>() == doctest::Approx(192.0));
  CHECK(first[1][3].get<double>() == doctest::Approx(192.0));
  CHECK(boxes[1]["pixels_per_image"][1] == nlohmann::ordered_json::array({0.0, 0.0, 640.0, 480.0}));
  CHECK(message["content"].get<std::string>().find("<|begin_of_box|>") != std::string::npos);
  CHECK(j["choices"][0]["finish_reason"] == "stop");
  CHECK(j["usage"]["prompt_tokens"] == 40);
  CHECK(j["usage"]["completion_tokens"] == 3);
}

TEST_CASE("no box, no glmv_boxes; length and a full context finish as length") {
  ChatTask task;
  task.image_sizes = {{10, 10}};
  for (FinishReason f : {FinishReason::kLength, FinishReason::kContextFull}) {
    const std::vector<GenerateResult> results = {Generated("plain words", f)};
    const auto j = CompletionJson({"chatcmpl-2", 0, "m"}, task, results, nullptr);
    CHECK_FALSE(j["choices"][0]["message"].contains("glmv_boxes"));
    CHECK(j["choices"][0]["finish_reason"] == "length");
  }
}

}  // namespace
}  // namespace glmv::app
