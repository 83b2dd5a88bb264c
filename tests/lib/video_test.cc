// Video preprocessing against the reference: every entry of golden/preprocess/video_sizing.json (frame
// indices, smart_resize sizes, prompt layout) reproduced exactly; the token-level expansion equals
// tokenizing the reference's expanded text; every media video preprocesses within the pixel budget.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/model/config.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/media/video_preprocess.h"
#include "lib/prompt/video_prompt.h"
#include "lib/media/video_sampling.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kGolden = test::SharedDir() / "golden" / "preprocess" / "video_sizing.json";

bool LoadGolden(json& out) {
  if (!fs::exists(kGolden)) {
    MESSAGE("skipped: " << kGolden << " is absent");
    return false;
  }
  std::ifstream f(kGolden);
  out = json::parse(f);
  return true;
}

VideoSamplingInput InputOf(const json& e) {
  VideoSamplingInput in;
  in.total_frames = e["total_num_frames"].get<int64_t>();
  in.video_fps = e["fps"].get<double>();
  if (e.contains("duration") && !e["duration"].is_null()) in.duration = e["duration"].get<double>();
  return in;
}

TEST_CASE("video golden: sample_frames indices, every entry") {
  json g;
  if (!LoadGolden(g)) return;
  const double max_duration = g["video_processor_defaults"]["max_duration"].get<double>();
  REQUIRE(g["sample_frames"].size() >= 7);
  for (const json& e : g["sample_frames"]) {
    VideoSamplingParams params{e["requested_fps"].get<double>(), max_duration};
    auto got = SampleFrameIndices(InputOf(e), params);
    REQUIRE(got.ok());
    CHECK_MESSAGE(*got == e["frame_indices"].get<std::vector<int64_t>>(), e["note"].get<std::string>());
  }
}

TEST_CASE("video golden: smart_resize with real frame counts, every entry") {
  json g;
  if (!LoadGolden(g)) return;
  const VideoPreprocessConfig config;  // the defaults are the processor's (checked below)
  CHECK(config.pixels.max_pixels == g["video_processor_defaults"]["size"]["longest_edge"].get<int64_t>());
  CHECK(config.pixels.min_pixels == g["video_processor_defaults"]["size"]["shortest_edge"].get<int64_t>());
  CHECK(config.fps == g["video_processor_defaults"]["fps"].get<double>());
  CHECK(config.max_duration == g["video_processor_defaults"]["max_duration"].get<double>());
  for (const json& e : g["smart_resize"]) {
    const int t = e["num_frames"].get<int>();
    const auto in = e["input_size_hw"].get<std::vector<int>>();
    auto target = VideoResizeTarget(in[0], in[1], t, config);
    REQUIRE(target.ok());
    const auto want = e["resized_size_hw"].get<std::vector<int>>();
    CHECK(target->height == want[0]);
    CHECK(target->width == want[1]);
    const auto grid = e["video_grid_thw"].get<std::vector<int64_t>>();
    CHECK(grid[0] == (t + 1) / 2);  // the processor pads an odd frame count by repeating the last frame
    CHECK(grid[1] == target->height / 14);
    CHECK(grid[2] == target->width / 14);
    CHECK(e["tokens_per_temporal_patch"].get<int64_t>() == grid[1] * grid[2] / 4);
  }
}

TEST_CASE("video golden: prompt layout (indices, timestamps, expansion text), every entry") {
  json g;
  if (!LoadGolden(g)) return;
  const VideoPreprocessConfig config;
  for (const json& e : g["prompt"]) {
    const VideoSamplingInput in = InputOf(e);
    auto indices = SampleFrameIndices(in, {config.fps, config.max_duration});
    REQUIRE(indices.ok());
    CHECK(*indices == e["sampled_frame_indices"].get<std::vector<int64_t>>());
    const auto seconds = e["timestamps_sec"].get<std::vector<double>>();
    REQUIRE(seconds.size() == indices->size());
    for (size_t i = 0; i < seconds.size(); ++i) CHECK(static_cast<double>((*indices)[i]) / in.video_fps == seconds[i]);
    const auto hw = e["input_size_hw"].get<std::vector<int>>();
    auto target = VideoResizeTarget(hw[0], hw[1], static_cast<int>(indices->size()), config);
    REQUIRE(target.ok());
    CHECK(std::vector<int>{target->height, target->width} == e["resized_size_hw"].get<std::vector<int>>());
    const auto grid = e["video_grid_thw"].get<std::vector<int64_t>>();
    CHECK(grid[0] == static_cast<int64_t>(indices->size()) / 2);
    VideoPromptLayout layout;
    layout.tokens_per_pair = (target->height / 14) * (target->width / 14) / 4;
    CHECK(layout.tokens_per_pair == e["tokens_per_temporal_patch"].get<int64_t>());
    layout.timestamps = TemporalPatchTimestamps(*indices, in.video_fps);
    CHECK(static_cast<int64_t>(layout.timestamps.size()) == grid[0]);
    CHECK(VideoPlaceholderText(layout, /*compact=*/true) == e["expansion_of_video_token"].get<std::string>());
  }
}

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

TEST_CASE("video preprocessing: every media video within the budget, sampled as the reference would") {
  const fs::path dir = test::SharedDir() / "media" / "video";
  if (!fs::exists(dir)) {
    MESSAGE("skipped: " << dir << " is absent");
    return;
  }
  const VideoPreprocessConfig config;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto t0 = std::chrono::steady_clock::now();
    auto v = PreprocessVideoFile(entry.path().string(), {}, config);
    REQUIRE_MESSAGE(v.ok(), v.status().message());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The frames are what sample_frames gives for (frames, fps, frames/fps).
    const double duration = static_cast<double>(v->frames_used) / v->info.fps;
    auto want = SampleFrameIndices({v->frames_used, v->info.fps, duration}, {});
    REQUIRE(want.ok());
    CHECK(v->frame_indices == *want);
    CHECK(v->frames_used == v->info.frame_count);
    const int64_t frames = static_cast<int64_t>(v->frame_indices.size());
    CHECK(v->grid_t * 2 == frames);
    CHECK(v->resized_height == v->grid_h * 14);
    CHECK(v->resized_width == v->grid_w * 14);
    CHECK(frames * v->resized_height * v->resized_width <= config.pixels.max_pixels);
    CHECK(v->grid_h % 2 == 0);
    CHECK(v->grid_w % 2 == 0);
    CHECK(v->pixel_values.size() == static_cast<size_t>(v->grid_t * v->grid_h * v->grid_w * 1176));
    CHECK(v->num_tokens == v->grid_t * v->grid_h * v->grid_w / 4);
    CHECK(v->timestamps == TemporalPatchTimestamps(v->frame_indices, v->info.fps));
    CHECK(v->frame_seconds.size() == v->frame_indices.size());
    // The stream's timestamps agree with index / fps (constant-rate files; the MKV excerpt is spliced and
    // its timestamps restart at frame 57).
    const bool spliced = entry.path().filename() == "bigbuckbunny-excerpt-mpeg4.mkv";
    for (size_t i = 0; i < v->frame_indices.size(); ++i) {
      const double want_seconds = static_cast<double>(v->frame_indices[i]) / v->info.fps;
      if (!spliced || v->frame_indices[i] < 57) CHECK(std::fabs(v->frame_seconds[i] - want_seconds) < 0.05);
    }
    MESSAGE(entry.path().filename().string()
            << ": " << v->info.frame_count << " frames, " << v->info.fps << " fps, " << v->info.duration << " s -> "
            << frames << " sampled, grid (" << v->grid_t << ", " << v->grid_h << ", " << v->grid_w << "), "
            << v->num_tokens << " tokens, " << secs << " s");
  }
}

TEST_CASE("video preprocessing: --start/--end, --fps, --max-frames and a corrected frame count") {
  const fs::path mp4 = test::SharedDir() / "media" / "video" / "techslides-small.mp4";
  if (!fs::exists(mp4)) return;
  VideoPreprocessConfig small;
  small.pixels.max_pixels = 28 * 28 * 8 * 4;  // keep it quick
  VideoLoadOptions o;
  o.start_seconds = 2.0;
  o.end_seconds = 4.0;
  auto v = PreprocessVideoFile(mp4.string(), o, small);
  REQUIRE_MESSAGE(v.ok(), v.status().message());
  // Frames 60..119 at 30 fps: 2 s → 4 samples, 15 frames apart, offset by 60; timestamps in file seconds.
  CHECK(v->frame_indices == std::vector<int64_t>{60, 75, 90, 105});
  CHECK(v->timestamps == std::vector<int64_t>{2, 3});
  o = {};
  o.fps = 10;
  o.max_frames = 8;
  v = PreprocessVideoFile(mp4.string(), o, small);
  REQUIRE(v.ok());
  CHECK(v->frame_indices.size() == 8);
  CHECK(v->frame_indices.front() == 0);
  o = {};
  o.start_seconds = 100;
  auto bad = PreprocessVideoFile(mp4.string(), o, small);
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().rfind(mp4.string() + ": ", 0) == 0);

  // The AFL movie's header says 12 frames, 11 decode: sampling is redone with 11.
  const fs::path afl = test::SharedDir() / "media" / "edge" / "afl-small_movie.mp4";
  if (!fs::exists(afl)) return;
  VideoLoadOptions every;
  every.fps = 12;
  auto e = PreprocessVideoFile(afl.string(), every, small);
  REQUIRE_MESSAGE(e.ok(), e.status().message());
  CHECK(e->frames_used == 11);
  CHECK(e->frames_used_source == "decoded frames");
  CHECK(e->frame_indices.back() <= 10);
}

}  // namespace
}  // namespace glmv
