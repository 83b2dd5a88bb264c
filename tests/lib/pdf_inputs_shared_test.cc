// PDFs of ../shared/media as a request's media (lib/media/pdf_inputs.h, lib/prompt/pdf_request.h; the executable
// skips, exit 77, without ../shared): a PDF from bytes is the PDF from its file, progress is reported as pages
// render, and a document's pages become requests, all at once and one page per request.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "io/decode_pdf.h"
#include "lib/media/pdf_inputs.h"
#include "lib/prompt/pdf_request.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

const auto kPdfDir = test::SharedDir() / "media" / "pdf";
const auto kEncrypted = test::SharedDir() / "media" / "malformed" / "pdf" / "forensics-a-text-encrypted-pw-peanuts.pdf";

TEST_CASE("pdf inputs: a PDF from bytes is the PDF from its file; progress as pages render") {
  if (!PdfSupportBuiltIn()) {
    MESSAGE("not run: " << PdfSupportNote());
    return;
  }
  const std::string path = (kPdfDir / "forensics-a-text.pdf").string();  // 2 pages
  PdfOptions options;
  options.dpi = 40;
  options.with_text = true;
  int chosen = 0;
  std::vector<int> rendered;
  PdfLoadProgress progress;
  progress.pages_chosen = [&](const LoadedPdf& pdf) {
    ++chosen;
    CHECK(pdf.page_count == 2);
    CHECK(pdf.page_numbers == std::vector<int>{1, 2});
    CHECK(pdf.pages.empty());
  };
  progress.page_rendered = [&](const LoadedPdf& pdf) { rendered.push_back(pdf.pages.back().number); };
  auto from_file = LoadPdfFile(path, options, ImagePreprocessConfig{}, InputLimits{}, progress);
  REQUIRE_MESSAGE(from_file.ok(), from_file.status().message());
  CHECK(chosen == 1);
  CHECK(rendered == std::vector<int>{1, 2});
  const std::vector<uint8_t> bytes = test::ReadBytes(path);
  auto from_bytes = LoadPdfBytes(bytes, "upload.pdf", options, ImagePreprocessConfig{});
  REQUIRE_MESSAGE(from_bytes.ok(), from_bytes.status().message());
  CHECK(from_bytes->name == "upload.pdf");
  CHECK(from_bytes->page_count == 2);
  REQUIRE(from_bytes->pages.size() == from_file->pages.size());
  for (size_t i = 0; i < from_file->pages.size(); ++i) {
    CHECK(from_file->pages[i].dpi == 40);
    CHECK(from_bytes->pages[i].image.width == from_file->pages[i].image.width);
    CHECK(from_bytes->pages[i].image.pixels == from_file->pages[i].image.pixels);
    CHECK(from_bytes->pages[i].text == from_file->pages[i].text);
  }
  CHECK(from_file->decoded_bytes == from_file->pages[0].image.pixels.size() + from_file->pages[1].image.pixels.size());

  // The rendered pages together are bounded by max_decoded_bytes, and the error names it.
  InputLimits tight;
  tight.max_decoded_bytes = from_file->pages[0].image.pixels.size() + 1;
  auto over = LoadPdfBytes(bytes, "upload.pdf", options, ImagePreprocessConfig{}, tight);
  REQUIRE(!over.ok());
  CHECK(over.status().message().rfind("upload.pdf: the pages rendered up to page 2 hold ", 0) == 0);
  CHECK(over.status().message().find("(raise it with InputLimits::max_decoded_bytes") != std::string::npos);
}

TEST_CASE("pdf inputs: a media PDF into requests") {
  if (!PdfSupportBuiltIn()) {
    MESSAGE("not run: " << PdfSupportNote());
    return;
  }
  ImagePreprocessConfig config;
  auto locked = LoadPdfFile(kEncrypted.string(), PdfOptions{}, config);
  REQUIRE(!locked.ok());
  CHECK(locked.status().message() == kEncrypted.string() +
                                         ": the PDF is encrypted and needs a password; none was given (give it with "
                                         "PdfOptions::password)");
  PdfOptions options;
  options.password = "peanuts";
  options.pages = "2,1";
  options.with_text = true;
  auto pdf = LoadPdfFile(kEncrypted.string(), options, config);
  REQUIRE_MESSAGE(pdf.ok(), pdf.status().message());
  CHECK(pdf->page_count == 2);
  CHECK(pdf->page_numbers == std::vector<int>{2, 1});
  REQUIRE(pdf->pages.size() == 2);
  CHECK(uint64_t(pdf->pages[0].image.width) * uint64_t(pdf->pages[0].image.height) <= uint64_t(config.max_pixels / 2));
  CHECK(pdf->pages[1].text.find("LibreOffice") != std::string::npos);
  const auto ranges = PdfRequestRanges(*pdf);
  REQUIRE(ranges.size() == 1);
  auto request = MakePdfRequest(*pdf, ranges[0].first, ranges[0].second, "What is this?");
  REQUIRE_MESSAGE(request.ok(), request.status().message());
  CHECK(request->page_numbers == std::vector<int>{2, 1});
  REQUIRE(request->pages.size() == 2);
  CHECK(request->pages[0].preprocessed.num_tokens > 5000);  // an A4 page at the full budget: ~6100 tokens
  REQUIRE(request->parts.size() == 5);  // image, text, image, text, question
  CHECK(request->parts[0].type == ChatContentPart::Type::kImage);
  CHECK(request->parts[1].text.rfind("Text layer of page 2:\n", 0) == 0);
  CHECK(request->parts[3].text.find("This is a text from LibreOffice Writer") != std::string::npos);
  CHECK(request->parts[4].text == "What is this?");
  CHECK(!MakePdfRequest(*pdf, 0, 1, "again").ok());  // the images moved out

  // per_page with a small budget and a scan without text: one request per page.
  config.max_pixels = 2 * 200'000;
  PdfOptions per_page;
  per_page.per_page = true;
  per_page.with_text = true;
  auto scan = LoadPdfFile((kPdfDir / "shattered-1-image-only.pdf").string(), per_page, config);
  REQUIRE_MESSAGE(scan.ok(), scan.status().message());
  const auto scan_ranges = PdfRequestRanges(*scan);
  REQUIRE(scan_ranges.size() == 1);
  auto scan_request = MakePdfRequest(*scan, 0, 1, "Describe.");
  REQUIRE(scan_request.ok());
  REQUIRE(scan_request->parts.size() == 3);
  CHECK(scan_request->parts[1].text == "(Page 1 has no text layer.)\n");
  CHECK(scan_request->pages[0].preprocessed.num_tokens <= 200'000 / 784 + 1);
}

}  // namespace
}  // namespace glmv
