// End to end on the tiny model: a real video through LoadVideo, a [video, text] user turn through the chat
// template, the video placeholder expanded, and four generated tokens. The weights are random, so the text
// means nothing; the path — decode, sample, resize, patchify, vision tower per frame pair, M-RoPE — is real.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "apps/video_inputs.h"
#include "lib/prompt/chat_template.h"
#include "lib/engine/engine.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

TEST_CASE("video end to end: LoadVideo → chat template → expansion → Engine::Generate on the tiny model") {
  const fs::path clip = test::SharedDir() / "media" / "video" / "techslides-small.mp4";
  if (!fs::exists(clip)) {
    MESSAGE("skipped: " << clip << " is absent");
    return;
  }
  const fs::path tiny = test::DataDir() / "tiny-glm4v-moe";
  auto engine = Engine::Load(tiny.string());
  REQUIRE_MESSAGE(engine.ok(), engine.status().message());
  Engine& e = **engine;
  REQUIRE(e.vision() != nullptr);
  REQUIRE(e.tokenizer() != nullptr);

  auto config = VideoPreprocessConfig::FromModelDir(tiny.string());
  REQUIRE(config.ok());
  config->pixels.max_pixels = 28 * 28 * 4 * 6;  // 6 blocks of 28² per frame at 4 frames: a tiny video
  VideoLoadOptions options;
  options.fps = 0.5;  // 5.5 s → 2 frames… padded to pairs
  options.max_frames = 4;
  auto video = app::LoadVideo(clip.string(), options, *config);
  REQUIRE_MESSAGE(video.ok(), video.status().message());
  CHECK(video->video.grid_t * 2 == static_cast<int64_t>(video->video.frame_indices.size()));
  CHECK(video->layout.timestamps.size() == static_cast<size_t>(video->video.grid_t));

  ChatMessage user;
  user.role = "user";
  user.content_is_list = true;
  user.parts.push_back({ChatContentPart::Type::kVideo, ""});
  user.parts.push_back({ChatContentPart::Type::kText, "What happens?"});
  const std::string text = RenderChatPrompt({user}, ChatOptions{});
  CHECK(text.find("<|begin_of_video|><|video|><|end_of_video|>What happens?") != std::string::npos);
  auto ids = ExpandVideoPlaceholders(e.model().model_config(), *e.tokenizer(), e.tokenizer()->Encode(text),
                                     std::vector<VideoPromptLayout>{video->layout});
  REQUIRE_MESSAGE(ids.ok(), ids.status().message());
  const int64_t image_id = e.model().model_config().image_token_id;
  CHECK(std::count(ids->begin(), ids->end(), image_id) == video->video.num_tokens);

  GenerateRequest request;
  request.prompt = std::move(ids).value();
  app::AppendVideoInputs(*video, request.visual);
  REQUIRE(request.visual.video_grids.size() == 1);
  request.sampling.temperature = 0;
  request.max_tokens = 4;
  request.ignore_eos = true;
  auto result = e.Generate(request);
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK(result->ids.size() == 4);
  CHECK(result->prompt_tokens == request.prompt.size());
}

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
