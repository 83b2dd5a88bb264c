// glmv serve's media parts over HTTP with the tiny model, on media made here (no ../shared): a WebP image
// (encoded in the test by libwebp) answered like PNG and JPEG, and every unusable image_url, video_url and file
// part answered with a 400 that names the part, the server serving on. The real videos and PDFs of
// ../shared/media are serve_media_shared_test.cc.
#include <doctest/doctest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/decode_pdf.h"
#include "tests/io/webp_test_util.h"
#include "tests/serve/serve_client.h"
#include "tests/serve/serve_process.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using json = nlohmann::json;
using test::Base64;
using test::Chat;
using test::CheckError;
using test::DataUrl;
using test::FilePart;
using test::ImagePart;
using test::Post;
using test::VideoPart;
using test::WithParts;

const std::string kTiny = (test::DataDir() / "tiny-glm4v-moe").string();


TEST_CASE("serve: a WebP image part is answered like PNG and JPEG, and counts its visual tokens") {
  test::ServeProcess server({"-m", kTiny});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(120, 0);  // decoding media on a busy machine (or under ASan) may take seconds
  const int text_only = Post(c, WithParts(json::array()).dump()).body["usage"]["prompt_tokens"];

  const std::vector<uint8_t> webp = test::EncodeWebpLossless(test::WebpTestPattern(96, 64, 3));
  REQUIRE(!webp.empty());
  const test::Answer a = Post(c, WithParts({ImagePart(DataUrl("image/webp", webp))}, 8).dump());
  REQUIRE(a.status == 200);
  const json& message = a.body["choices"][0]["message"];
  CHECK(a.body["usage"]["completion_tokens"].get<int>() >= 1);
  CHECK(message["content"].get<std::string>().size() + message.value("reasoning_content", std::string()).size() > 0);
  const int with_webp = a.body["usage"]["prompt_tokens"];
  MESSAGE("prompt tokens: text only " << text_only << ", with a 96x64 WebP " << with_webp);
  CHECK(with_webp > text_only);
  // glmv_boxes refer to pixels of each picture: the server keeps the decoded size.
  const std::vector<uint8_t> lossy = test::EncodeWebpLossy(test::WebpTestPattern(96, 64, 3), 80);
  CHECK(Post(c, WithParts({ImagePart(DataUrl("image/webp", lossy))}).dump()).body["usage"]["prompt_tokens"] ==
        with_webp);

  // PNG, JPEG and WebP in one request: three images' tokens.
  const std::vector<uint8_t> png = test::ReadBytes(test::DataDir() / "images" / "basn6a08.png");
  const std::vector<uint8_t> jpeg = test::ReadBytes(test::DataDir() / "images" / "go-video-001.q50.420.jpeg");
  const test::Answer three = Post(c, WithParts({ImagePart(DataUrl("image/png", png)),
                                                ImagePart(DataUrl("image/jpeg", jpeg)),
                                                ImagePart(DataUrl("image/webp", webp))})
                                         .dump());
  REQUIRE(three.status == 200);
  CHECK(three.body["usage"]["prompt_tokens"].get<int>() > with_webp);
}

TEST_CASE("serve: unusable image, video and file parts get a 400 naming the part; the server serves on") {
  const std::string images = (test::DataDir() / "images").string();
  test::ServeProcess server({"-m", kTiny, "--ctx", "512", "--allow-local-files", images});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(120, 0);  // decoding media on a busy machine (or under ASan) may take seconds
  const std::vector<uint8_t> png = test::ReadBytes(test::DataDir() / "images" / "basn6a08.png");
  std::vector<uint8_t> webp = test::EncodeWebpLossless(test::WebpTestPattern(40, 30, 1));
  webp.resize(webp.size() / 2);
  const std::string text = "this is not a video, a picture or a document";
  const std::vector<uint8_t> text_bytes(text.begin(), text.end());
  const std::string not_a_pdf = "%PDF-1.4\nnothing that MuPDF could turn into a page\n";
  const bool pdf = PdfSupportBuiltIn();
  const std::string pdf_refused = "built without PDF support";
  json no_url = {{"type", "video_url"}, {"video_url", {{"detail", "low"}}}};
  json file_id = {{"type", "file"}, {"file", {{"file_id", "file-abc123"}}}};
  json no_data = {{"type", "file"}, {"file", {{"filename", "x.pdf"}}}};
  json bad_pages = FilePart(DataUrl("application/pdf", std::vector<uint8_t>(not_a_pdf.begin(), not_a_pdf.end())));
  bad_pages["file"]["pages"] = 3;
  const struct {
    json part;
    std::string mentions;
  } cases[] = {
      {VideoPart("data:video/mp4;base64,AAAA%%%"), "messages[0].content[0].video_url.url: base64"},
      {VideoPart(DataUrl("video/mp4", text_bytes)), "messages[0].content[0].video_url"},
      {VideoPart(DataUrl("image/png", png)), "is image/png, not a video; send it as an image_url part"},
      {VideoPart(DataUrl("video/mp4", png)), "holds an image (png), not a video; send it as an image_url part"},
      {VideoPart("https://example.com/clip.mp4"), "does not fetch"},
      {VideoPart("file:///etc/passwd"), "outside"},
      {VideoPart("file://" + images + "/basn6a08.png"), "messages[0].content[0].video_url"},
      {VideoPart("ftp://x/clip.mp4"), "must be a data: URL"},
      {no_url, "video_url.url must be a string"},
      {ImagePart(DataUrl("application/pdf", png)), "is application/pdf, not an image; send it as a file part"},
      {ImagePart(DataUrl("image/webp", webp)), "messages[0].content[0].image_url: truncated WebP"},
      {file_id, "file_id: the server has no files API"},
      {no_data, "file.file_data must be a string"},
      {FilePart("data:application/pdf;base64,JVBER%%%"), pdf ? "file.file_data: base64" : pdf_refused},
      {FilePart("JVBER!!!"), pdf ? "file.file_data: base64" : pdf_refused},
      {FilePart(DataUrl("image/png", png)), pdf ? "is image/png, not a PDF; send it as an image_url part" : pdf_refused},
      {FilePart(DataUrl("", png)), pdf ? "holds an image (png), not a PDF" : pdf_refused},
      {FilePart(DataUrl("application/pdf", std::vector<uint8_t>(not_a_pdf.begin(), not_a_pdf.end()))),
       pdf ? "messages[0].content[0].file (doc.pdf)" : pdf_refused},
      {bad_pages, pdf ? "file.pages must be a string" : pdf_refused},
  };
  for (const auto& k : cases) {
    CAPTURE(k.part.dump().substr(0, 160));
    CheckError(Post(c, WithParts({k.part}).dump()), 400, k.mentions);
    CHECK(server.running());
  }
  // The messages' shape is checked before any media is decoded, with the request's own part indices: here the
  // undecodable file part is never reached.
  json text_not_string = WithParts({FilePart("data:application/pdf;base64,AAAA"), {{"type", "text"}, {"text", 5}}});
  CheckError(Post(c, text_not_string.dump()), 400, "messages[0].content[1].text must be a string");
  json wizard = WithParts({VideoPart(DataUrl("video/mp4", text_bytes))});
  wizard["messages"][0]["role"] = "wizard";
  CheckError(Post(c, wizard.dump()), 400, "'wizard' is not system, user, assistant or tool");
  // Placed second, a bad part is named by its own index.
  CheckError(Post(c, WithParts({ImagePart(DataUrl("image/png", png)), VideoPart(DataUrl("video/mp4", text_bytes))}).dump()),
             400, "messages[0].content[1].video_url");
  CHECK(Post(c, WithParts({ImagePart(DataUrl("image/png", png))}).dump()).status == 200);
  CHECK(Post(c, Chat("still there?").dump()).status == 200);
}

TEST_CASE("serve: --max-videos 0 and --max-pdfs 0 refuse those parts before decoding them") {
  test::ServeProcess server({"-m", kTiny, "--max-videos", "0", "--max-pdfs", "0"});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(120, 0);  // decoding media on a busy machine (or under ASan) may take seconds
  CheckError(Post(c, WithParts({VideoPart("data:video/mp4;base64,AAAA")}).dump()), 400,
             "more than 0 video(s) in one request (the server's --max-videos)");
  CheckError(Post(c, WithParts({FilePart("data:application/pdf;base64,AAAA")}).dump()), 400,
             "more than 0 PDF file part(s) in one request (the server's --max-pdfs)");
  CHECK(Post(c, Chat("hello").dump()).status == 200);
}

}  // namespace
}  // namespace glmv
