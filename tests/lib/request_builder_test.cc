// BuildRequestPrompt: messages with image parts become the template's prompt with one placeholder per visual
// token and the images' pixels beside it; parts the media do not match are errors.
#include <doctest/doctest.h>

#include <algorithm>

#include "io/npy.h"
#include "lib/prompt/request_builder.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

const auto kTiny = test::DataDir() / "tiny-glm4v-moe";

TEST_CASE("messages with an image: one placeholder per visual token, the pixels beside them") {
  auto config = LoadModelConfig((kTiny / "config.json").string());
  REQUIRE(config.ok());
  auto tok = Tokenizer::LoadFromDir(kTiny.string());
  REQUIRE_MESSAGE(tok.ok(), tok.status().message());
  ChatMessage user;
  user.role = "user";
  user.content_is_list = true;
  user.parts = {{ChatContentPart::Type::kImage, ""}, {ChatContentPart::Type::kText, "what is it"}};
  RequestMedia media;
  media.visual.image_grids = {{1, 4, 6}};  // 24 patches, 6 visual tokens at merge 2
  media.visual.image_pixels.assign(24 * 1176, 0.5f);
  media.image_tokens = {6};
  auto built = BuildRequestPrompt(*config, **tok, {user}, ChatOptions{}, media);
  REQUIRE_MESSAGE(built.ok(), built.status().message());
  CHECK(std::count(built->ids.begin(), built->ids.end(), config->image_token_id) == 6);
  CHECK(built->visual.image_grids.size() == 1);
  CHECK(built->visual.image_pixels.size() == 24 * 1176);
  // Text only: the template's prompt as the tokenizer gives it.
  auto text = BuildRequestPrompt(*config, **tok, {ChatMessage::Text("user", "hi")}, ChatOptions{}, {});
  REQUIRE(text.ok());
  CHECK(text->ids == (*tok)->Encode(RenderChatPrompt({ChatMessage::Text("user", "hi")}, ChatOptions{})));
  // Two image parts for one image, or an image without a part, are errors.
  ChatMessage two = user;
  two.parts.insert(two.parts.begin(), {ChatContentPart::Type::kImage, ""});
  auto bad = BuildRequestPrompt(*config, **tok, {two}, ChatOptions{}, media);
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("2 images but 1") != std::string::npos);
  CHECK(!BuildRequestPrompt(*config, **tok, {ChatMessage::Text("user", "hi")}, ChatOptions{}, media).ok());
}

}  // namespace
}  // namespace glmv
