// --pdf options (apps/pdf_inputs.h) on the media PDFs of ../shared (the executable skips, exit 77, without it):
// option validation, and a media PDF through LoadPdf and MakePdfRequest into visual inputs and user-message
// parts, all pages at once and one page per request.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/pdf_inputs.h"
#include "io/decode_pdf.h"
#include "tests/test_util.h"

namespace glmv::app {
namespace {

Result<Args> ParseArgs(std::vector<std::string> words) {
  std::vector<char*> argv = {const_cast<char*>("glmv"), const_cast<char*>("run")};
  for (auto& w : words) argv.push_back(w.data());
  return Args::Parse(PdfOptionSpecs(), int(argv.size()), argv.data(), 2);
}

TEST_CASE("pdf inputs: option errors") {
  const ImagePreprocessConfig config;
  const std::string pdf = (test::SharedDir() / "media" / "pdf" / "forensics-a-text.pdf").string();
  for (const auto& [words, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--pdf", pdf, "--dpi", "5"}, "--dpi must be between 10 and 1200, got 5"},
           {{"--pdf", pdf, "--dpi", "72x"}, "--dpi expects an integer, got '72x'"},
           {{"--pdf", pdf, "--max-pages", "0"}, "--max-pages must be between 1 and 100000, got 0"},
           {{"--pdf", pdf, "--pages", "3"}, pdf + ": --pages: page 3 is past the end (the PDF has 2 pages)"},
       }) {
    auto args = ParseArgs(words);
    REQUIRE(args.ok());
    auto r = LoadPdf(args->Get("--pdf"), *args, config);
    REQUIRE(!r.ok());
    CHECK(r.status().message() == message);
  }
}

TEST_CASE("pdf inputs: a media PDF into requests") {
  if (!PdfSupportBuiltIn()) {
    MESSAGE("not run: " << PdfSupportNote());
    return;
  }
  const std::string encrypted =
      (test::SharedDir() / "media" / "malformed" / "pdf" / "forensics-a-text-encrypted-pw-peanuts.pdf").string();
  ImagePreprocessConfig config;
  {
    auto args = ParseArgs({"--pdf", encrypted});
    auto r = LoadPdf(args->Get("--pdf"), *args, config);
    REQUIRE(!r.ok());
    CHECK(r.status().message() ==
          encrypted + ": the PDF is encrypted and needs a password; none was given (give it with --password)");
  }
  auto args = ParseArgs({"--pdf", encrypted, "--password", "peanuts", "--pages", "2,1", "--with-text"});
  REQUIRE(args.ok());
  auto pdf = LoadPdf(args->Get("--pdf"), *args, config);
  REQUIRE_MESSAGE(pdf.ok(), pdf.status().message());
  CHECK(pdf->page_count == 2);
  CHECK(pdf->page_numbers == std::vector<int>{2, 1});
  REQUIRE(pdf->images.size() == 2);
  CHECK(uint64_t(pdf->images[0].width) * uint64_t(pdf->images[0].height) <= uint64_t(config.max_pixels / 2));
  CHECK(pdf->texts[1].find("LibreOffice") != std::string::npos);
  const auto ranges = PdfRequestRanges(*pdf);
  REQUIRE(ranges.size() == 1);
  auto request = MakePdfRequest(*pdf, ranges[0].first, ranges[0].second, "What is this?");
  REQUIRE_MESSAGE(request.ok(), request.status().message());
  CHECK(request->page_numbers == std::vector<int>{2, 1});
  CHECK(request->images.visual.image_grids.size() == 2);
  CHECK(request->images.tokens_per_image.size() == 2);
  CHECK(request->images.tokens_per_image[0] > 5000);  // an A4 page at the full budget: ~6100 tokens
  REQUIRE(request->parts.size() == 5);  // image, text, image, text, question
  CHECK(request->parts[0].type == ChatContentPart::Type::kImage);
  CHECK(request->parts[1].text.rfind("Text layer of page 2:\n", 0) == 0);
  CHECK(request->parts[3].text.find("This is a text from LibreOffice Writer") != std::string::npos);
  CHECK(request->parts[4].text == "What is this?");
  CHECK(!MakePdfRequest(*pdf, 0, 1, "again").ok());  // the images moved out

  // --per-page with a small budget and no text: one request per page.
  config.max_pixels = 2 * 200'000;
  auto per_page_args = ParseArgs({"--pdf", (test::SharedDir() / "media" / "pdf" / "shattered-1-image-only.pdf").string(),
                                  "--per-page", "--with-text"});
  auto scan = LoadPdf(per_page_args->Get("--pdf"), *per_page_args, config);
  REQUIRE_MESSAGE(scan.ok(), scan.status().message());
  const auto scan_ranges = PdfRequestRanges(*scan);
  REQUIRE(scan_ranges.size() == 1);
  auto scan_request = MakePdfRequest(*scan, 0, 1, "Describe.");
  REQUIRE(scan_request.ok());
  REQUIRE(scan_request->parts.size() == 3);
  CHECK(scan_request->parts[1].text == "(Page 1 has no text layer.)\n");
  CHECK(scan_request->images.tokens_per_image[0] <= 200'000 / 784 + 1);
}

}  // namespace
}  // namespace glmv::app
