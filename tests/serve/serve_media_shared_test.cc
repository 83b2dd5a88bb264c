// glmv serve's video_url and file (PDF) parts over HTTP with the tiny model, on the real videos and PDFs of
// ../shared/media (the executable skips, exit 77, without it): a video as a data: URL and as a file:// URL
// under --allow-local-files, a PDF's pages as images (all, or file.pages), each answered with the visual
// tokens counted in usage; and a truncated video, a video or a PDF over the server's limits, an encrypted PDF
// and a second video answered with a 400 naming the part and the flag, the server serving on.
#include <doctest/doctest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/decode_pdf.h"
#include "tests/serve/serve_client.h"
#include "tests/serve/serve_process.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::Base64;
using test::Chat;
using test::CheckError;
using test::DataUrl;
using test::FilePart;
using test::Post;
using test::VideoPart;
using test::WithParts;

const std::string kTiny = (test::DataDir() / "tiny-glm4v-moe").string();

fs::path Media(const std::string& name) {
  const fs::path p = test::SharedDir() / "media" / name;
  REQUIRE_MESSAGE(fs::exists(p), p.string() << " is missing from ../shared");
  return p;
}

// Small visual budgets keep the tiny model's context and the test's time small; the paths are the same. A
// picture (a PDF page) takes at most 64 visual tokens (--max-pixels counts 2 frames of 28² pixels a token),
// and the pages of a PDF share 400.
const std::vector<std::string> kSmallMedia = {"--max-frames", "4", "--video-max-pixels", "150000", "--max-pixels",
                                              "100352", "--pdf-max-tokens", "400", "--max-pages", "4"};

std::vector<std::string> Args(std::vector<std::string> more) {
  std::vector<std::string> args = {"-m", kTiny};
  args.insert(args.end(), kSmallMedia.begin(), kSmallMedia.end());
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

void CheckAnswered(const test::Answer& a, int more_than_prompt) {
  REQUIRE_MESSAGE(a.status == 200, a.body.dump().substr(0, 400));
  CHECK(a.body["usage"]["completion_tokens"].get<int>() >= 1);
  const json& message = a.body["choices"][0]["message"];
  CHECK(message["content"].get<std::string>().size() + message.value("reasoning_content", std::string()).size() > 0);
  CHECK(a.body["usage"]["prompt_tokens"].get<int>() > more_than_prompt);
}

TEST_CASE("serve: a video_url data: URL and a file:// video are decoded, sampled and answered") {
  const fs::path mp4 = Media("video/techslides-small.mp4");
  test::ServeProcess server(Args({"--allow-local-files", mp4.parent_path().string()}));
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(120, 0);  // decoding media on a busy machine (or under ASan) may take seconds
  const int text_only = Post(c, WithParts(json::array()).dump()).body["usage"]["prompt_tokens"];
  const test::Answer a = Post(c, WithParts({VideoPart(DataUrl("video/mp4", test::ReadBytes(mp4)))}, 8).dump());
  CheckAnswered(a, text_only);
  const int with_video = a.body["usage"]["prompt_tokens"];
  MESSAGE("prompt tokens: text only " << text_only << ", with a 4-frame video " << with_video);
  // Four frames are two temporal patches: two groups of image tokens, each with its timestamp.
  CHECK(with_video - text_only >= 2 * 4);
  // The same file by path gives the same prompt.
  const test::Answer b = Post(c, WithParts({VideoPart("file://" + mp4.string())}).dump());
  REQUIRE(b.status == 200);
  CHECK(b.body["usage"]["prompt_tokens"] == with_video);
  // A WebM (VP8) in a data: URL without a media type.
  const test::Answer webm = Post(c, WithParts({VideoPart(DataUrl("", test::ReadBytes(Media("video/techslides-small.webm"))))}).dump());
  CHECK(webm.status == 200);
}

TEST_CASE("serve: a PDF file part becomes its pages' images; file.pages chooses some") {
  test::ServeProcess server(Args({}));
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(120, 0);  // decoding media on a busy machine (or under ASan) may take seconds
  const std::vector<uint8_t> pdf = test::ReadBytes(Media("pdf/forensics-a-text.pdf"));  // 2 pages
  const json both = WithParts({FilePart(DataUrl("application/pdf", pdf))}, 8);
  if (!PdfSupportBuiltIn()) {
    CheckError(Post(c, both.dump()), 400, "this server was built without PDF support (MuPDF)");
    CHECK(Post(c, Chat("hello").dump()).status == 200);
    return;
  }
  const int text_only = Post(c, WithParts(json::array()).dump()).body["usage"]["prompt_tokens"];
  const test::Answer a = Post(c, both.dump());
  CheckAnswered(a, text_only);
  const int two_pages = a.body["usage"]["prompt_tokens"];
  json first = both;
  first["messages"][0]["content"][0]["file"]["pages"] = "1";
  const test::Answer one = Post(c, first.dump());
  CheckAnswered(one, text_only);
  const int one_page = one.body["usage"]["prompt_tokens"];
  MESSAGE("prompt tokens: text only " << text_only << ", page 1 " << one_page << ", both pages " << two_pages);
  // Each page is an image of up to 64 tokens: the second page adds about as many as the first.
  CHECK(one_page - text_only > 16);
  CHECK(two_pages - text_only > (one_page - text_only) * 3 / 2);
  // Bare base64 in file_data (no data: prefix), as some clients send it: the same prompt.
  json bare = both;
  bare["messages"][0]["content"][0]["file"]["file_data"] = Base64(pdf);
  const test::Answer b = Post(c, bare.dump());
  REQUIRE(b.status == 200);
  CHECK(b.body["usage"]["prompt_tokens"] == two_pages);
}

TEST_CASE("serve: videos and PDFs over the limits, damaged or locked get a 400 naming the part and the flag") {
  test::ServeProcess server(Args({"--max-decoded-frames", "100"}));
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(120, 0);  // decoding media on a busy machine (or under ASan) may take seconds
  const std::vector<uint8_t> mp4 = test::ReadBytes(Media("video/techslides-small.mp4"));  // 166 frames
  const std::vector<uint8_t> h263 = test::ReadBytes(Media("video/techslides-small-h263.3gp"));  // 83 frames
  const std::vector<uint8_t> cut(mp4.begin(), mp4.begin() + static_cast<std::ptrdiff_t>(mp4.size() / 2));
  const bool pdf = PdfSupportBuiltIn();
  const std::string no_pdf = "built without PDF support";
  json pages_past_end = FilePart(DataUrl("application/pdf", test::ReadBytes(Media("pdf/forensics-a-text.pdf"))));
  pages_past_end["file"]["pages"] = "3";
  const struct {
    json parts;
    std::string mentions;
  } cases[] = {
      {json::array({VideoPart(DataUrl("video/mp4", mp4))}),
       "messages[0].content[0].video_url: the file declares 166 frames, more than the limit of 100 (raise it with "
       "--max-decoded-frames)"},
      {json::array({VideoPart(DataUrl("video/mp4", cut))}), "messages[0].content[0].video_url: "},
      {json::array({VideoPart(DataUrl("video/3gpp", h263)), VideoPart(DataUrl("video/3gpp", h263))}),
       "messages[0].content[1]: more than 1 video(s) in one request (the server's --max-videos)"},
      {json::array({FilePart(DataUrl("application/pdf", test::ReadBytes(Media("pdf/podofo-sample-32pages.pdf"))))}),
       pdf ? "the PDF has 32 pages, more than --max-pages 4: choose some with file.pages" : no_pdf},
      {json::array({pages_past_end}), pdf ? "file.pages: page 3 is past the end (the PDF has 2 pages)" : no_pdf},
      {json::array({FilePart(DataUrl("application/pdf",
                                     test::ReadBytes(Media("malformed/pdf/forensics-a-text-encrypted-pw-peanuts.pdf"))))}),
       pdf ? "the server takes no passwords" : no_pdf},
  };
  for (const auto& k : cases) {
    CAPTURE(k.mentions);
    CheckError(Post(c, WithParts(k.parts).dump()), 400, k.mentions);
    CHECK(server.running());
  }
  // A video within the limits and a plain request still work after all that.
  CHECK(Post(c, WithParts({VideoPart(DataUrl("video/3gpp", h263))}).dump()).status == 200);
  CHECK(Post(c, Chat("still there?").dump()).status == 200);
}

}  // namespace
}  // namespace glmv
