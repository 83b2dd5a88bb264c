// libFuzzer target: PDF documents (MuPDF behind io/decode_pdf.cc) from arbitrary bytes: open (with repair),
// count pages, render the first two pages small with their text layers. An error status is the normal outcome;
// a crash, a sanitizer report, a leak, a hang or a bad page image is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "io/decode_pdf.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  glmv::PdfLimits limits;
  limits.max_library_bytes = uint64_t{256} << 20;  // under libFuzzer's -rss_limit_mb=2048 with room to spare
  limits.max_pixels_per_page = 1'000'000;
  limits.max_page_seconds = 3;
  limits.max_total_seconds = 5;
  auto doc = glmv::PdfDocument::OpenBytes({data, size}, "fuzz.pdf", "", limits);
  if (!doc.ok()) return 0;
  if (doc->page_count() <= 0) glmv::fuzz::InvariantBroken("pdf: opened with no pages");
  glmv::PdfRenderOptions options;
  options.target_pixels = 100'000;  // automatic DPI: small pages, fast runs
  options.extract_text = true;
  for (int number = 1; number <= std::min(doc->page_count(), 2); ++number) {
    auto page = doc->RenderPage(number, options);
    if (page.ok()) glmv::fuzz::CheckPicture(page->image, limits.max_pixels_per_page, "pdf: bad page");
  }
  return 0;
}
