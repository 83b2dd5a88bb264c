// --input routing by content (apps/media_inputs.h), the limit flags and how their errors name them
// (apps/input_limits.h: Explain words the decoders' limits and lib/media's settings as flags).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "apps/input_limits.h"
#include "apps/media_inputs.h"
#include "lib/media/pdf_inputs.h"
#include "tests/test_util.h"

namespace glmv::app {
namespace {

namespace fs = std::filesystem;

Result<Args> Parse(const std::vector<OptionSpec>& spec, std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  return Args::Parse(spec, static_cast<int>(argv.size()), argv.data(), 0);
}

std::vector<OptionSpec> AllSpecs();

Args MustParse(std::vector<std::string> words) {
  auto args = Parse(AllSpecs(), std::move(words));
  REQUIRE_MESSAGE(args.ok(), args.status().message());
  return std::move(args).value();
}

std::vector<OptionSpec> AllSpecs() {
  std::vector<OptionSpec> spec = MediaInputOptionSpecs();
  for (const auto& o : InputLimitOptionSpecs()) spec.push_back(o);
  spec.push_back({"--image", "", true, ""});
  spec.push_back({"--video", "", true, ""});
  spec.push_back({"--pdf", "", true, ""});
  return spec;
}

void WriteText(const fs::path& path, const std::string& text) { test::WriteBytes(path, {text.begin(), text.end()}); }

TEST_CASE("--input: files go where their bytes say, whatever their names") {
  test::TempDir dir;
  const std::string jpeg_as_png = (dir / "photo.png").string(), pdf_as_mp4 = (dir / "doc.mp4").string();
  const std::string mkv_as_pdf = (dir / "clip.pdf").string(), text = (dir / "notes.jpg").string();
  fs::copy_file(test::DataDir() / "images" / "go-video-001.q50.420.jpeg", jpeg_as_png);
  WriteText(pdf_as_mp4, "%PDF-1.4\n1 0 obj\n");  // routing reads the header only
  WriteText(mkv_as_pdf, "\x1A\x45\xDF\xA3 matroska");
  WriteText(text, "What is in this picture?\n");

  auto args = Parse(AllSpecs(), {"--image", "a.jpg", "--input", jpeg_as_png, "--input", pdf_as_mp4, "--input", mkv_as_pdf});
  REQUIRE(args.ok());
  auto media = CollectMediaFiles(*args);
  REQUIRE_MESSAGE(media.ok(), media.status().message());
  CHECK(media->images == std::vector<std::string>{"a.jpg", jpeg_as_png});
  CHECK(media->pdf == pdf_as_mp4);
  CHECK(media->video == mkv_as_pdf);

  auto bad = CollectMediaFiles(MustParse({"--input", text}));
  REQUIRE(!bad.ok());
  CHECK(bad.status().message() ==
        text + ": --input: the file holds text, not a JPEG, PNG or WebP image, a video or a PDF (a video in a container "
               "glmv does not recognise by its bytes can still be given with --video)");
  WriteText(dir / "anim.png", "GIF89a\x01\x00\x01\x00");
  CHECK(CollectMediaFiles(MustParse({"--input", (dir / "anim.png").string()})).status().message() ==
        (dir / "anim.png").string() + ": --input: unsupported GIF image (JPEG, PNG and WebP images are decoded)");
  auto two = CollectMediaFiles(MustParse({"--pdf", "x.pdf", "--input", pdf_as_mp4}));
  REQUIRE(!two.ok());
  CHECK(two.status().message().find("a second PDF (x.pdf is one already)") != std::string::npos);
  CHECK(!CollectMediaFiles(MustParse({"--input", (dir / "missing").string()})).ok());
}

TEST_CASE("limit flags: parsing, the decoders' limits, and errors that name the flag") {
  auto args = Parse(AllSpecs(), {"--max-image-pixels", "5000", "--max-decoded-frames", "77", "--max-file-bytes",
                                 "1234", "--decode-time-limit", "2.5"});
  REQUIRE(args.ok());
  auto limits = InputLimitsFromArgs(*args);
  REQUIRE_MESSAGE(limits.ok(), limits.status().message());
  CHECK(limits->ForImage().max_pixels == 5000);
  CHECK(limits->ForImage().max_bytes == 1234);
  CHECK(limits->ForImage().max_seconds == 2.5);
  CHECK(limits->ForVideo().max_frame_pixels == 5000);
  CHECK(limits->ForVideo().max_frames == 77);
  CHECK(limits->ForVideo().max_seconds == 2.5);
  CHECK(limits->ForPdf(9).max_pages == 9);
  CHECK(limits->ForPdf(9).max_pixels_per_page == 5000);
  CHECK(limits->ForPdf(9).max_total_seconds == 2.5);
  CHECK(Explain(*limits, Status::Error("a.jpg: over the limit of 5000 (DecodeLimits::max_pixels)")).message() ==
        "a.jpg: over the limit of 5000 (raise it with --max-image-pixels)");
  CHECK(Explain(*limits, Status::Error("v.mp4: more than 77 frames (VideoLimits::max_frames)")).message() ==
        "v.mp4: more than 77 frames (raise it with --max-decoded-frames)");
  CHECK(Explain(*limits, Status::Error("d.pdf: 3 pages (PdfLimits::max_pages)")).message() ==
        "d.pdf: 3 pages (raise it with --max-pages)");
  CHECK(Explain(*limits, Status::Ok()).ok());

  // Defaults: each decoder's own pixel limit; the decoded-byte budget takes over when it is the smaller.
  const InputLimits defaults;
  CHECK(defaults.ForImage().max_pixels == DecodeLimits{}.max_pixels);
  CHECK(defaults.ForVideo().max_frame_pixels == VideoLimits{}.max_frame_pixels);
  auto small = InputLimitsFromArgs(MustParse({"--max-decoded-bytes", "30000"}));
  REQUIRE(small.ok());
  CHECK(small->ForImage().max_pixels == 10000);
  CHECK(Explain(*small, Status::Error("x (DecodeLimits::max_pixels)")).message() ==
        "x (raise it with --max-decoded-bytes)");

  for (const auto& bad : std::vector<std::vector<std::string>>{{"--max-image-pixels", "0"},
                                                                {"--max-decoded-frames", "-1"},
                                                                {"--max-decoded-bytes", "2"},
                                                                {"--max-file-bytes", "x"},
                                                                {"--decode-time-limit", "0"}}) {
    auto a = Parse(AllSpecs(), bad);
    REQUIRE(a.ok());
    CHECK_MESSAGE(!InputLimitsFromArgs(*a).ok(), bad[0]);
  }
}

TEST_CASE("Explain: lib/media's errors read as today's flags") {
  const InputLimits limits;
  const auto flags = [&](const Status& s) { return Explain(limits, s).message(); };
  CHECK(flags(ParsePageRanges("11", 10, 50).status()) == "--pages: page 11 is past the end (the PDF has 10 pages)");
  CHECK(flags(ParsePageRanges("1-5", 10, 4).status()) == "5 pages selected, more than --max-pages 4");
  CHECK(flags(ParsePageRanges("", 75, 50).status()) ==
        "the PDF has 75 pages, more than --max-pages 50: choose some with --pages (e.g. --pages 1-50) or raise "
        "--max-pages");
  CHECK(flags(PageConfigForTokenBudget(ImagePreprocessConfig{}, 10, 50).status()) ==
        "10 pages in one request need at least 8 visual tokens each (80 in all), more than --pdf-max-tokens 50: "
        "choose fewer --pages, use --per-page, or raise --pdf-max-tokens");
  PdfOptions o;
  o.dpi = 5;
  CHECK(flags(o.Validate()) == "--dpi must be between 10 and 1200, got 5");
  o = PdfOptions{};
  o.max_pages = 0;
  CHECK(flags(o.Validate()) == "--max-pages must be between 1 and 100000, got 0");
  CHECK(flags(Status::Error("d.pdf: the PDF is encrypted and needs a password; none was given (give it with "
                            "PdfOptions::password)")) ==
        "d.pdf: the PDF is encrypted and needs a password; none was given (give it with --password)");
  CHECK(flags(Status::Error("d.pdf: ... over the limit of 9 (raise it with InputLimits::max_decoded_bytes, or choose "
                            "fewer PdfOptions::pages or a lower PdfOptions::dpi)")) ==
        "d.pdf: ... over the limit of 9 (raise it with --max-decoded-bytes, or choose fewer --pages or a lower --dpi)");
  // A limit named twice is worded twice.
  CHECK(flags(Status::Error("(DecodeLimits::max_bytes) (DecodeLimits::max_bytes)")) ==
        "(raise it with --max-file-bytes) (raise it with --max-file-bytes)");
}

}  // namespace
}  // namespace glmv::app
