// PDF pages as a request's media (lib/media/pdf_inputs.h) without a PDF file: the options and their errors, page
// lists, the visual-token budget, the request ranges, and pages preprocessed from a hand-built LoadedPdf. Real
// PDFs from ../shared/media: pdf_inputs_shared_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "lib/media/pdf_inputs.h"

namespace glmv {
namespace {

std::string Error(const Result<std::vector<int>>& r) { return r.ok() ? "OK" : r.status().message(); }

TEST_CASE("pdf inputs: page lists and their errors name PdfOptions' fields") {
  CHECK(ParsePageRanges("1-3,7", 10, 50).value() == std::vector<int>{1, 2, 3, 7});
  CHECK(ParsePageRanges(" 7 , 2-3 ", 10, 50).value() == std::vector<int>{7, 2, 3});
  CHECK(ParsePageRanges("8-", 10, 50).value() == std::vector<int>{8, 9, 10});
  CHECK(ParsePageRanges("", 3, 50).value() == std::vector<int>{1, 2, 3});
  CHECK(ParsePageRanges("4-4", 4, 50).value() == std::vector<int>{4});
  CHECK(Error(ParsePageRanges("0", 10, 50)) == "PdfOptions::pages: pages are numbered from 1");
  CHECK(Error(ParsePageRanges("11", 10, 50)) == "PdfOptions::pages: page 11 is past the end (the PDF has 10 pages)");
  CHECK(Error(ParsePageRanges("2", 1, 50)) == "PdfOptions::pages: page 2 is past the end (the PDF has 1 page)");
  CHECK(Error(ParsePageRanges("3-1", 10, 50)) == "PdfOptions::pages: the range 3-1 goes backwards");
  CHECK(Error(ParsePageRanges("1-3,2", 10, 50)) == "PdfOptions::pages: page 2 is listed twice");
  CHECK(Error(ParsePageRanges("1,,2", 10, 50)) ==
        "PdfOptions::pages: '' is not a page number or a range like 2-5 or 7-");
  CHECK(Error(ParsePageRanges("a-b", 10, 50)) ==
        "PdfOptions::pages: 'a-b' is not a page number or a range like 2-5 or 7-");
  CHECK(Error(ParsePageRanges("-3", 10, 50)) ==
        "PdfOptions::pages: '-3' is not a page number or a range like 2-5 or 7-");
  CHECK(Error(ParsePageRanges("1-2-3", 10, 50)) != "OK");
  CHECK(Error(ParsePageRanges("99999999999999999999", 10, 50)) != "OK");
  CHECK(Error(ParsePageRanges("1-5", 10, 4)) == "5 pages selected, more than PdfOptions::max_pages 4");
  CHECK(Error(ParsePageRanges("", 75, 50)) ==
        "the PDF has 75 pages, more than PdfOptions::max_pages 50: choose some with PdfOptions::pages "
        "(e.g. PdfOptions::pages 1-50) or raise PdfOptions::max_pages");
  // A huge range is refused by its count, before a page list of that size exists.
  CHECK(Error(ParsePageRanges("1-2000000000", 2000000000, 50)) ==
        "2000000000 pages selected, more than PdfOptions::max_pages 50");
}

TEST_CASE("pdf inputs: PdfOptions::Validate names the field and the range") {
  CHECK(PdfOptions{}.Validate().ok());
  PdfOptions o;
  o.dpi = 5;
  CHECK(o.Validate().message() == "PdfOptions::dpi must be between 10 and 1200, got 5");
  o.dpi = 1201;
  CHECK(o.Validate().message() == "PdfOptions::dpi must be between 10 and 1200, got 1201");
  o.dpi = 1200;
  CHECK(o.Validate().ok());
  o.max_pages = 0;
  CHECK(o.Validate().message() == "PdfOptions::max_pages must be between 1 and 100000, got 0");
  o.max_pages = 100001;
  CHECK(!o.Validate().ok());
  o.max_pages = 3;
  o.max_tokens = 0;
  CHECK(o.Validate().message() == "PdfOptions::max_tokens must be positive");

  // LoadPdfBytes checks the options before it looks at the bytes (so a build without MuPDF says the same).
  const std::string text = "%PDF-1.4 not really";
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  PdfOptions bad_dpi;
  bad_dpi.dpi = 9;
  CHECK(LoadPdfBytes(bytes, "upload.pdf", bad_dpi, ImagePreprocessConfig{}).status().message() ==
        "PdfOptions::dpi must be between 10 and 1200, got 9");
  // Bytes that are no PDF: the error starts with the caller's name for them.
  const std::string not_pdf = "hello";
  auto r = LoadPdfBytes({reinterpret_cast<const uint8_t*>(not_pdf.data()), not_pdf.size()}, "upload.pdf",
                        PdfOptions{}, ImagePreprocessConfig{});
  REQUIRE(!r.ok());
  CHECK(r.status().message().rfind("upload.pdf: ", 0) == 0);
}

TEST_CASE("pdf inputs: pages share PdfOptions::max_tokens, or the error says what to do") {
  const ImagePreprocessConfig model;  // 6144 tokens an image at most, 8 at least
  CHECK(PageConfigForTokenBudget(model, 4, 30000)->max_pixels == model.max_pixels);  // 4 × 6144 fits
  auto shared = PageConfigForTokenBudget(model, 10, 30000);
  REQUIRE(shared.ok());
  CHECK(shared->max_pixels == 3000 * 28 * 28 * 2);  // 3000 tokens each
  CHECK(shared->min_pixels == model.min_pixels);
  auto too_small = PageConfigForTokenBudget(model, 10, 50);
  REQUIRE(!too_small.ok());
  CHECK(too_small.status().message() ==
        "10 pages in one request need at least 8 visual tokens each (80 in all), more than PdfOptions::max_tokens 50: "
        "choose fewer PdfOptions::pages, use PdfOptions::per_page, or raise PdfOptions::max_tokens");
  CHECK(PageConfigForTokenBudget(model, 0, 100).status().message() == "PdfOptions::max_tokens must be positive");
  // Whatever the page, smart_resize under the lowered max_pixels stays within the share.
  auto target = SmartResize(3300, 2550, 28, shared->min_pixels, shared->max_pixels);
  REQUIRE(target.ok());
  CHECK(int64_t(target->height / 28) * (target->width / 28) <= 3000);
}

// Three rendered pages, as LoadPdfFile would leave them.
LoadedPdf ThreePages(bool per_page) {
  LoadedPdf pdf;
  pdf.name = "doc.pdf";
  pdf.page_count = 5;
  pdf.per_page = per_page;
  pdf.page_numbers = {4, 1, 2};
  for (int number : pdf.page_numbers) {
    PdfPage page;
    page.number = number;
    page.image = RgbImage::Black(100 + 10 * number, 80);
    pdf.pages.push_back(std::move(page));
  }
  return pdf;
}

TEST_CASE("pdf inputs: request ranges, and pages preprocessed once each") {
  CHECK(PdfRequestRanges(ThreePages(false)) == std::vector<std::pair<size_t, size_t>>{{0, 3}});
  CHECK(PdfRequestRanges(ThreePages(true)) == std::vector<std::pair<size_t, size_t>>{{0, 1}, {1, 2}, {2, 3}});

  LoadedPdf pdf = ThreePages(false);
  auto pages = PreprocessPdfPages(pdf, 1, 3);
  REQUIRE_MESSAGE(pages.ok(), pages.status().message());
  REQUIRE(pages->size() == 2);
  CHECK((*pages)[0].name == "doc.pdf#page=1");
  CHECK((*pages)[1].name == "doc.pdf#page=2");
  CHECK((*pages)[0].image.width == 110);
  CHECK((*pages)[1].image.width == 120);
  CHECK((*pages)[0].preprocessed.num_tokens > 0);
  CHECK(pdf.pages[1].image.pixels.empty());   // moved out
  CHECK(!pdf.pages[0].image.pixels.empty());  // not asked for
  CHECK(PreprocessPdfPages(pdf, 2, 3).status().message() ==
        "doc.pdf page 2: already sent (each page image moves into one request)");
  CHECK(PreprocessPdfPages(pdf, 2, 4).status().message() == "doc.pdf: no pages [2, 4) to send");
}

}  // namespace
}  // namespace glmv
