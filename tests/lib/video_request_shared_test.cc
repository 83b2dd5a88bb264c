// End to end on the tiny model: a real video from ../shared/media (the executable skips, exit 77, without it)
// through LoadVideoFile and RequestMedia, a [video, text] user turn through BuildRequestPrompt (chat template,
// video placeholder expanded), and four generated tokens. The weights are random, so the text means nothing;
// the path — decode, sample, resize, patchify, vision tower per frame pair, M-RoPE — is real.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "lib/engine/engine.h"
#include "lib/media/video_inputs.h"
#include "lib/prompt/chat_template.h"
#include "lib/prompt/request_builder.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

TEST_CASE("video end to end: LoadVideoFile → BuildRequestPrompt → Engine::Generate on the tiny model") {
  const fs::path clip = test::SharedDir() / "media" / "video" / "techslides-small.mp4";
  REQUIRE_MESSAGE(fs::exists(clip), clip.string() << " is missing from ../shared");
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
  auto video = LoadVideoFile(clip.string(), options, *config);
  REQUIRE_MESSAGE(video.ok(), video.status().message());
  CHECK(video->path == clip.string());
  CHECK(video->seconds > 0);
  const int64_t grid_t = video->video.grid_t, num_tokens = video->video.num_tokens;
  CHECK(grid_t * 2 == static_cast<int64_t>(video->video.frame_indices.size()));

  RequestMedia media;
  media.AddVideo(std::move(video->video));
  REQUIRE(media.videos.size() == 1);
  CHECK(media.videos[0].timestamps.size() == static_cast<size_t>(grid_t));

  ChatMessage user;
  user.role = "user";
  user.content_is_list = true;
  user.parts.push_back({ChatContentPart::Type::kVideo, ""});
  user.parts.push_back({ChatContentPart::Type::kText, "What happens?"});
  const std::string text = RenderChatPrompt({user}, ChatOptions{});
  CHECK(text.find("<|begin_of_video|><|video|><|end_of_video|>What happens?") != std::string::npos);
  auto built = BuildRequestPrompt(e.model().model_config(), *e.tokenizer(), {user}, ChatOptions{}, std::move(media));
  REQUIRE_MESSAGE(built.ok(), built.status().message());
  const int64_t image_id = e.model().model_config().image_token_id;
  CHECK(std::count(built->ids.begin(), built->ids.end(), image_id) == num_tokens);

  GenerateRequest request;
  request.prompt = std::move(built->ids);
  request.visual = std::move(built->visual);
  REQUIRE(request.visual.video_grids.size() == 1);
  request.sampling.temperature = 0;
  request.max_tokens = 4;
  request.ignore_eos = true;
  auto result = e.Generate(request);
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK(result->ids.size() == 4);
  CHECK(result->prompt_tokens == request.prompt.size());
}

}  // namespace
}  // namespace glmv
