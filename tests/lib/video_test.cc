// Video preprocessing: sampling edge cases, frame ranges and the frame cap, the settings file, and the
// token-level expansion equal to tokenizing the reference's expanded text. The golden file and the media videos
// of ../shared are video_shared_test.cc.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "lib/model/config.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/media/video_preprocess.h"
#include "lib/prompt/video_prompt.h"
#include "lib/media/video_sampling.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

TEST_CASE("video sampling: edge cases beyond the golden file") {
  // Duration 0 counts as missing (Python's `or`), so the fallback applies.
  auto a = SampleFrameIndices({84, 24.0, 0.0}, {});
  auto b = SampleFrameIndices({84, 24.0, std::nullopt}, {});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);
  // An explicit duration under one sampling interval gives no frames (callers fall back).
  auto tiny = SampleFrameIndices({7, 25.0, 0.28}, {});
  REQUIRE(tiny.ok());
  CHECK(tiny->empty());
  // Over max_duration with fewer frames than samples: every frame.
  auto all = SampleFrameIndices({100, 0.25, std::nullopt}, {});
  REQUIRE(all.ok());
  CHECK(all->size() == 100);
  CHECK(!SampleFrameIndices({0, 25.0, std::nullopt}, {}).ok());
  CHECK(!SampleFrameIndices({10, 0.0, std::nullopt}, {}).ok());
  CHECK(!SampleFrameIndices({10, 25.0, std::nullopt}, {0.0, 300}).ok());
  // Absurd fps/duration combinations are refused instead of allocating.
  CHECK(!SampleFrameIndices({1000, 25.0, 1e12}, {1000.0, 1e15}).ok());
}

TEST_CASE("video sampling: frame ranges, the frame cap and timestamps") {
  auto r = FrameRangeForSeconds(300, 30.0, 2.0, 4.0);
  REQUIRE(r.ok());
  CHECK(r->first == 60);
  CHECK(r->last == 120);
  r = FrameRangeForSeconds(300, 30.0, 9.0, std::nullopt);
  REQUIRE(r.ok());
  CHECK(r->size() == 30);
  CHECK(!FrameRangeForSeconds(300, 30.0, 10.0, std::nullopt).ok());  // starts after the last frame
  CHECK(!FrameRangeForSeconds(300, 30.0, 3.0, 2.0).ok());
  CHECK(!FrameRangeForSeconds(300, 30.0, -1.0, std::nullopt).ok());

  std::vector<int64_t> many;
  for (int i = 0; i < 100; ++i) many.push_back(i * 3);
  CHECK(CapFrameCount(many, 200) == many);
  const auto capped = CapFrameCount(many, 11);  // rounded down to an even 10
  REQUIRE(capped.size() == 10);
  CHECK(capped.front() == 0);
  CHECK(capped.back() == 297);
  for (size_t i = 1; i < capped.size(); ++i) CHECK(capped[i] > capped[i - 1]);
  CHECK(CapFrameCount(many, 1).size() == 2);

  CHECK(TemporalPatchTimestamps({0, 15, 30, 45, 299, 299}, 30.0) == std::vector<int64_t>{0, 1, 9});
  CHECK(TemporalPatchTimestamps({0, 15, 30, 45, 60, 60}, 29.97) == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("video config: JSON keys, video defaults where the file is silent") {
  auto c = VideoPreprocessConfig::FromJson(R"({"fps": 1, "max_duration": 60, "patch_size": 14})", "v.json");
  REQUIRE(c.ok());
  CHECK(c->fps == 1.0);
  CHECK(c->max_duration == 60.0);
  CHECK(c->pixels.max_pixels == 47040000);  // not the image budget
  c = VideoPreprocessConfig::FromJson(R"({"size": {"shortest_edge": 3136, "longest_edge": 1000000}})", "v.json");
  REQUIRE(c.ok());
  CHECK(c->pixels.min_pixels == 3136);
  CHECK(c->pixels.max_pixels == 1000000);
  CHECK(!VideoPreprocessConfig::FromJson(R"({"fps": -2})", "v.json").ok());
  CHECK(!VideoPreprocessConfig::FromJson("[1]", "v.json").ok());
  // A model directory without the file: defaults (the tiny model has no preprocessor files).
  auto d = VideoPreprocessConfig::FromModelDir((test::DataDir() / "tiny-glm4v-moe").string());
  REQUIRE(d.ok());
  CHECK(d->pixels.max_pixels == 47040000);
}

TEST_CASE("video prompt: expanding token ids equals tokenizing the reference's expanded text") {
  const fs::path tiny = test::DataDir() / "tiny-glm4v-moe";
  auto tok = Tokenizer::LoadFromDir(tiny.string());
  REQUIRE_MESSAGE(tok.ok(), tok.status().message());
  auto config = LoadModelConfig((tiny / "config.json").string());
  REQUIRE(config.ok());
  const std::string before = "[gMASK]<sop><|user|>\n<|begin_of_video|>";
  const std::string after = "<|end_of_video|>What happens?<|assistant|>\n";
  VideoPromptLayout layout;
  layout.tokens_per_pair = 6;
  layout.timestamps = {0, 7, 9, 10, 99, 123, 1234};  // 1–4 digits: the pre-tokenizer splits digits by 3
  auto expanded = ExpandVideoPlaceholders(*config, **tok, (*tok)->Encode(before + "<|video|>" + after),
                                          std::vector<VideoPromptLayout>{layout});
  REQUIRE_MESSAGE(expanded.ok(), expanded.status().message());
  CHECK(*expanded == (*tok)->Encode(before + VideoPlaceholderText(layout) + after));
  CHECK(std::count(expanded->begin(), expanded->end(), config->image_token_id) == 6 * 7);

  // Placeholder and video counts must agree; a <|video|> outside a video span is refused.
  CHECK(!ExpandVideoPlaceholders(*config, **tok, (*tok)->Encode(before + "<|video|>" + after), {}).ok());
  CHECK(!ExpandVideoPlaceholders(*config, **tok, (*tok)->Encode(before + after),
                                 std::vector<VideoPromptLayout>{layout})
             .ok());
  CHECK(!ExpandVideoPlaceholders(*config, **tok, (*tok)->Encode("<|video|>"), std::vector<VideoPromptLayout>{layout})
             .ok());
}

}  // namespace
}  // namespace glmv
