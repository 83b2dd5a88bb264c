// --video options (apps/video_inputs.h): parsing and their errors. The end-to-end run of a real video on the
// tiny model needs ../shared/media: video_inputs_shared_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/video_inputs.h"

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

}  // namespace
}  // namespace glmv
