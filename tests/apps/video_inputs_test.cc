// --video options (apps/video_inputs.h): parsing and their errors. The end-to-end run of a real video on the
// tiny model needs ../shared/media: video_inputs_shared_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/input_limits.h"
#include "apps/video_inputs.h"
#include "lib/media/video_sampling.h"

namespace glmv {
namespace {

TEST_CASE("video options: parsing and their errors") {
  const auto spec = app::VideoOptionSpecs();
  auto parse = [&](std::vector<std::string> words) {
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    return app::Args::Parse(spec, static_cast<int>(argv.size()), argv.data(), 0);
  };
  auto args = parse({"--video", "x.mp4", "--fps", "1.5", "--max-frames", "32", "--start", "3", "--end", "9.5",
                     "--video-time-limit", "30"});
  REQUIRE(args.ok());
  auto o = app::VideoLoadOptionsFromArgs(*args);
  REQUIRE_MESSAGE(o.ok(), o.status().message());
  CHECK(*o->fps == 1.5);
  CHECK(o->max_frames == 32);
  CHECK(o->start_seconds == 3.0);
  CHECK(*o->end_seconds == 9.5);
  CHECK(o->limits.max_seconds == 30.0);
  const std::vector<std::vector<std::string>> bad_options = {
      {"--fps", "0"}, {"--fps", "abc"}, {"--max-frames", "1"}, {"--start", "5", "--end", "2"}, {"--start", "-1"},
      {"--video-time-limit", "0"}};
  for (const auto& bad : bad_options) {
    auto a = parse(bad);
    REQUIRE(a.ok());
    CHECK(!app::VideoLoadOptionsFromArgs(*a).ok());
  }
  auto cfg_args = parse({"--video-max-pixels", "100000"});
  REQUIRE(cfg_args.ok());
  auto cfg = app::VideoConfigFromArgs(*cfg_args, "");
  REQUIRE(cfg.ok());
  CHECK(cfg->pixels.max_pixels == 100000);
}

TEST_CASE("video options: lib names its settings by field; Explain words them as the flags that set them") {
  // Checked before any file is opened, so a path that does not exist shows the option's error.
  VideoLoadOptions one_frame;
  one_frame.max_frames = 1;
  auto r = PreprocessVideoFile("/nonexistent.mp4", one_frame, VideoPreprocessConfig{});
  REQUIRE(!r.ok());
  CHECK(r.status().message() == "VideoLoadOptions::max_frames must be at least 2, got 1");
  CHECK(app::Explain(InputLimits{}, r.status()).message() == "--max-frames must be at least 2, got 1");
  VideoLoadOptions no_fps;
  no_fps.fps = 0.0;
  auto f = PreprocessVideoFile("/nonexistent.mp4", no_fps, VideoPreprocessConfig{});
  REQUIRE(!f.ok());
  CHECK(app::Explain(InputLimits{}, f.status()).message() == "--fps must be a positive number");
  auto start = FrameRangeForSeconds(100, 10.0, -1.0, std::nullopt);
  REQUIRE(!start.ok());
  CHECK(app::Explain(InputLimits{}, start.status()).message() == "--start must be a non-negative number of seconds");
  auto end = FrameRangeForSeconds(100, 10.0, 3.0, 2.0);
  REQUIRE(!end.ok());
  CHECK(end.status().message() == "VideoLoadOptions::end_seconds must come after VideoLoadOptions::start_seconds");
  CHECK(app::Explain(InputLimits{}, end.status()).message() == "--end must come after --start");
  // A caller's own words first (the server names the request's fields), then the flags.
  const app::Wording server[] = {{"PdfOptions::pages", "file.pages"}};
  CHECK(app::Explain(InputLimits{}, Status::Error("PdfOptions::pages: page 3 is past the end; PdfOptions::max_pages"),
                     server)
            .message() == "file.pages: page 3 is past the end; --max-pages");
}

}  // namespace
}  // namespace glmv
