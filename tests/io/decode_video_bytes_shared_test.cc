// Videos decoded from bytes in memory (VideoReader::OpenBytes, lib's LoadVideoBytes) against the same files
// decoded from their paths, on every video of ../shared/media (the executable skips, exit 77, without it): the
// same stream description, the same frames bit for bit (in order and with seeking), the same preprocessed
// pixels; cut-off and garbage bytes end in an error that names the bytes, never a crash.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "io/decode_video.h"
#include "lib/media/video_inputs.h"
#include "tests/io/decode_video_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

fs::path BytesVideoDir() { return test::SharedDir() / "media" / "video"; }

std::vector<fs::path> MediaVideos() {
  REQUIRE_MESSAGE(fs::exists(BytesVideoDir()), BytesVideoDir().string() << " is missing from ../shared");
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(BytesVideoDir())) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 8);
  return files;
}

struct Decoded {
  VideoInfo info;
  std::vector<int64_t> indices;     // delivered, in order
  std::vector<double> seconds;
  std::vector<std::vector<uint8_t>> pixels;
  VideoReadStats stats;
};

// Opens through `open`, reads `wanted`, keeps every frame's pixels.
template <typename Open>
Decoded ReadAll(const Open& open, const std::vector<int64_t>& wanted) {
  auto reader = open();
  REQUIRE_MESSAGE(reader.ok(), reader.status().message());
  Decoded d;
  d.info = (*reader)->info();
  auto stats = (*reader)->ReadFrames(wanted, [&](const VideoFrame& f) {
    d.indices.push_back(f.requested_index);
    d.seconds.push_back(f.seconds);
    d.pixels.push_back(f.image.pixels);
    return Status::Ok();
  });
  REQUIRE_MESSAGE(stats.ok(), stats.status().message());
  d.stats = *stats;
  return d;
}

void CheckSameInfo(const VideoInfo& a, const VideoInfo& b) {
  CHECK(a.container == b.container);
  CHECK(a.codec == b.codec);
  CHECK(a.pixel_format == b.pixel_format);
  CHECK(a.width == b.width);
  CHECK(a.height == b.height);
  CHECK(a.rotation == b.rotation);
  CHECK(a.fps == b.fps);
  CHECK(a.fps_source == b.fps_source);
  CHECK(a.frame_count == b.frame_count);
  CHECK(a.frame_count_source == b.frame_count_source);
  CHECK(a.duration == b.duration);
  CHECK(a.start_time == b.start_time);
  CHECK(a.has_keyframe_index == b.has_keyframe_index);
}

TEST_CASE("video bytes: every media video gives the same frames from memory as from its file") {
  int seeks = 0;
  for (const fs::path& path : MediaVideos()) {
    CAPTURE(path.filename().string());
    const std::vector<uint8_t> bytes = test::ReadBytes(path);
    auto probe = VideoReader::Open(path.string());
    REQUIRE_MESSAGE(probe.ok(), probe.status().message());
    const int64_t count = (*probe)->info().frame_count;
    // A frame every 1.3 s and one past the end, with eager seeking, so the reader seeks through the memory
    // reader's seek callback wherever the container has a keyframe index.
    const int64_t step = std::max<int64_t>(2, static_cast<int64_t>((*probe)->info().fps * 1.3));
    std::vector<int64_t> wanted;
    for (int64_t i = 0; i <= count; i += step) wanted.push_back(i);
    wanted.push_back(count);
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    VideoLimits limits;
    limits.min_seek_gap_seconds = 0.5;
    const Decoded from_file = ReadAll([&] { return VideoReader::Open(path.string(), limits); }, wanted);
    const Decoded from_bytes = ReadAll([&] { return VideoReader::OpenBytes(bytes, "upload", limits); }, wanted);
    CheckSameInfo(from_file.info, from_bytes.info);
    CHECK(from_bytes.indices == from_file.indices);
    CHECK(from_bytes.seconds == from_file.seconds);
    CHECK(from_bytes.pixels == from_file.pixels);  // bit for bit
    CHECK(from_bytes.stats.seeks == from_file.stats.seeks);
    CHECK(from_bytes.stats.frames_decoded == from_file.stats.frames_decoded);
    CHECK(from_bytes.indices.size() >= wanted.size() - 1);
    seeks += from_bytes.stats.seeks;
  }
  CHECK(seeks > 0);
}

TEST_CASE("video bytes: LoadVideoBytes preprocesses exactly as LoadVideoFile") {
  VideoPreprocessConfig config;
  config.pixels.max_pixels = 200'000;  // small frames keep the test quick; the path is the same at any size
  VideoLoadOptions options;
  options.max_frames = 8;
  for (const char* name : {"techslides-small.mp4", "wikimedia-Shepard_Calais_1906-theora.ogv"}) {
    CAPTURE(name);
    const fs::path path = BytesVideoDir() / name;
    REQUIRE(fs::exists(path));
    const std::vector<uint8_t> bytes = test::ReadBytes(path);
    auto file = LoadVideoFile(path.string(), options, config);
    REQUIRE_MESSAGE(file.ok(), file.status().message());
    auto memory = LoadVideoBytes(bytes, "clip", options, config);
    REQUIRE_MESSAGE(memory.ok(), memory.status().message());
    CHECK(memory->path == "clip");
    const PreprocessedVideo& a = file->video;
    const PreprocessedVideo& b = memory->video;
    CHECK(b.grid_t == a.grid_t);
    CHECK(b.grid_h == a.grid_h);
    CHECK(b.grid_w == a.grid_w);
    CHECK(b.frame_indices == a.frame_indices);
    CHECK(b.timestamps == a.timestamps);
    CHECK(b.num_tokens == a.num_tokens);
    CHECK(!b.pixel_values.empty());
    CHECK(b.pixel_values == a.pixel_values);
  }
}

TEST_CASE("video bytes: cut-off and garbage bytes are errors naming the bytes, never a crash") {
  const std::vector<uint8_t> mp4 = test::ReadBytes(BytesVideoDir() / "techslides-small.mp4");
  REQUIRE(mp4.size() > 100000);
  // MP4 states its track's length, so every cut must fail (as the file reader's tests require of files).
  for (size_t cut : {size_t{1}, size_t{8}, size_t{300}, size_t{4096}, mp4.size() / 3, mp4.size() / 2,
                     mp4.size() * 9 / 10}) {
    CAPTURE(cut);
    const std::span<const uint8_t> part(mp4.data(), cut);
    auto reader = VideoReader::OpenBytes(part, "cut");
    Status failure = reader.status();
    if (reader.ok()) {
      std::vector<int64_t> all;
      for (int64_t i = 0; i < (*reader)->info().frame_count; ++i) all.push_back(i);
      failure = (*reader)->ReadFrames(all, [](const VideoFrame&) { return Status::Ok(); }).status();
    }
    REQUIRE(!failure.ok());
    test::CheckNamedError(failure, "cut");
  }
  std::mt19937 rng(7);
  std::vector<uint8_t> noise(50000);
  for (uint8_t& b : noise) b = static_cast<uint8_t>(rng());
  auto garbage = VideoReader::OpenBytes(noise, "noise");
  REQUIRE(!garbage.ok());
  test::CheckNamedError(garbage.status(), "noise");
  // A real container header over garbage: the first 64 KiB of the file, then noise.
  std::vector<uint8_t> spliced(mp4.begin(), mp4.begin() + 65536);
  spliced.insert(spliced.end(), noise.begin(), noise.end());
  auto preprocessed = LoadVideoBytes(spliced, "spliced", VideoLoadOptions{}, VideoPreprocessConfig{});
  REQUIRE(!preprocessed.ok());
  test::CheckNamedError(preprocessed.status(), "spliced");
}

}  // namespace
}  // namespace glmv
