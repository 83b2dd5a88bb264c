// BuildRequestPrompt: messages with image parts become the template's prompt with one placeholder per visual
// token and the images' pixels beside it; parts the media do not match are errors. RequestMedia collects
// preprocessed images and videos in prompt order; MakePdfRequest makes PDF pages into a user message.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "io/npy.h"
#include "lib/prompt/pdf_request.h"
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

PreprocessedImage FakeImage(int64_t h, int64_t w, float value) {
  PreprocessedImage image;
  image.grid_t = 1;
  image.grid_h = h;
  image.grid_w = w;
  image.num_tokens = h * w / 4;
  image.pixel_values.assign(static_cast<size_t>(h * w) * 1176, value);
  return image;
}

PreprocessedVideo FakeVideo(int64_t t, float value) {
  PreprocessedVideo video;
  video.grid_t = t;
  video.grid_h = 2;
  video.grid_w = 4;
  video.tokens_per_pair = 2;
  video.num_tokens = 2 * t;
  for (int64_t k = 0; k < t; ++k) video.timestamps.push_back(3 * k);
  video.pixel_values.assign(static_cast<size_t>(t * 8) * 1176, value);
  return video;
}

TEST_CASE("RequestMedia: images and videos appended in prompt order") {
  RequestMedia media;
  media.AddImage(FakeImage(2, 2, 1.0f));
  media.AddImage(FakeImage(4, 6, 2.0f));
  REQUIRE(media.visual.image_grids.size() == 2);
  CHECK(media.visual.image_grids[1].t == 1);
  CHECK(media.visual.image_grids[1].h == 4);
  CHECK(media.visual.image_grids[1].w == 6);
  CHECK(media.image_tokens == std::vector<int64_t>{1, 6});
  REQUIRE(media.visual.image_pixels.size() == (4 + 24) * 1176);
  CHECK(media.visual.image_pixels[4 * 1176 - 1] == 1.0f);  // the first image's last value, then the second's
  CHECK(media.visual.image_pixels[4 * 1176] == 2.0f);

  PreprocessedVideo first = FakeVideo(2, 3.0f), second = FakeVideo(1, 4.0f);
  const float* first_data = first.pixel_values.data();
  media.AddVideo(std::move(first));
  CHECK(media.visual.video_pixels.data() == first_data);  // the first video's pixels are moved, not copied
  media.AddVideo(std::move(second));
  REQUIRE(media.videos.size() == 2);
  CHECK(media.videos[0].tokens_per_pair == 2);
  CHECK(media.videos[0].timestamps == std::vector<int64_t>{0, 3});
  CHECK(media.visual.video_grids[1].t == 1);
  REQUIRE(media.visual.video_pixels.size() == (16 + 8) * 1176);
  CHECK(media.visual.video_pixels.back() == 4.0f);
  CHECK(media.visual.image_pixels.size() == (4 + 24) * 1176);  // images untouched
}

TEST_CASE("MakePdfRequest: each page's image, its text layer with with_text, then the question") {
  LoadedPdf pdf;
  pdf.name = "doc.pdf";
  pdf.page_count = 3;
  pdf.with_text = true;
  pdf.page_numbers = {3, 1};
  for (const auto& [number, text] : std::vector<std::pair<int, std::string>>{{3, "  Total: 42\n\n"}, {1, " \n"}}) {
    PdfPage page;
    page.number = number;
    page.image = RgbImage::Black(90, 60);
    page.text = text;
    pdf.pages.push_back(std::move(page));
  }
  auto request = MakePdfRequest(pdf, 0, 2, "What is the total?");
  REQUIRE_MESSAGE(request.ok(), request.status().message());
  CHECK(request->page_numbers == std::vector<int>{3, 1});
  REQUIRE(request->pages.size() == 2);
  CHECK(request->pages[0].name == "doc.pdf#page=3");
  CHECK(request->pages[0].image.width == 90);
  REQUIRE(request->parts.size() == 5);  // image, text, image, text, question
  CHECK(request->parts[0].type == ChatContentPart::Type::kImage);
  CHECK(request->parts[1].text == "Text layer of page 3:\nTotal: 42\n");
  CHECK(request->parts[2].type == ChatContentPart::Type::kImage);
  CHECK(request->parts[3].text == "(Page 1 has no text layer.)\n");
  CHECK(request->parts[4].text == "What is the total?");
  CHECK(!MakePdfRequest(pdf, 0, 1, "again").ok());  // the images moved out

  // Without with_text: the pages' images and the question only.
  LoadedPdf plain = pdf;
  plain.with_text = false;
  for (PdfPage& page : plain.pages) page.image = RgbImage::Black(90, 60);
  auto images_only = MakePdfRequest(plain, 1, 2, "Describe.");
  REQUIRE(images_only.ok());
  REQUIRE(images_only->parts.size() == 2);
  CHECK(images_only->parts[0].type == ChatContentPart::Type::kImage);
  CHECK(images_only->page_numbers == std::vector<int>{1});
}

}  // namespace
}  // namespace glmv
