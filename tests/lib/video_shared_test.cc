// Video preprocessing against the reference, on ../shared (the executable skips, exit 77, without it): every
// entry of golden/preprocess/video_sizing.json (frame indices, smart_resize sizes, prompt layout) reproduced
// exactly; every media video preprocesses within the pixel budget; --start/--end, --fps, --max-frames.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/media/video_preprocess.h"
#include "lib/prompt/video_prompt.h"
#include "lib/media/video_sampling.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kGolden = test::SharedDir() / "golden" / "preprocess" / "video_sizing.json";

// video_sizing.json; ../shared is there (else the executable skipped), and this file of it must be too.
json LoadGolden() {
  REQUIRE_MESSAGE(fs::exists(kGolden), kGolden.string() << " is missing from ../shared");
  std::ifstream f(kGolden);
  return json::parse(f);
}

VideoSamplingInput InputOf(const json& e) {
  VideoSamplingInput in;
  in.total_frames = e["total_num_frames"].get<int64_t>();
  in.video_fps = e["fps"].get<double>();
  if (e.contains("duration") && !e["duration"].is_null()) in.duration = e["duration"].get<double>();
  return in;
}

TEST_CASE("video golden: sample_frames indices, every entry") {
  const json g = LoadGolden();
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
  const json g = LoadGolden();
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
  const json g = LoadGolden();
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

TEST_CASE("video preprocessing: every media video within the budget, sampled as the reference would") {
  const fs::path dir = test::SharedDir() / "media" / "video";
  REQUIRE_MESSAGE(fs::exists(dir), dir.string() << " is missing from ../shared");
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
  REQUIRE_MESSAGE(fs::exists(mp4), mp4.string() << " is missing from ../shared");
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
  REQUIRE_MESSAGE(fs::exists(afl), afl.string() << " is missing from ../shared");
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
