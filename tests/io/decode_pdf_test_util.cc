#include "tests/io/decode_pdf_test_util.h"

#include <doctest/doctest.h>

#include <cstdint>

namespace glmv::test {

void CheckErrorOrSane(const Result<DecodedPdf>& r, const std::string& name) {
  if (!r.ok()) {
    const std::string m = r.status().message();
    CHECK_MESSAGE(m.rfind(name + ": ", 0) == 0, m);
    CHECK(m.size() > name.size() + 10);
    return;
  }
  CHECK(r->page_count > 0);
  for (const auto& p : r->pages) {
    CHECK(p.image.width > 0);
    CHECK(p.image.height > 0);
    CHECK(uint64_t(p.image.width) * uint64_t(p.image.height) <= PdfRenderOptions{}.target_pixels);
    CHECK(p.image.pixels.size() == size_t(p.image.width) * size_t(p.image.height) * 3);
  }
}

double InkFraction(const RgbImage& image) {
  size_t ink = 0;
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    if (image.pixels[i] < 200 || image.pixels[i + 1] < 200 || image.pixels[i + 2] < 200) ++ink;
  }
  return double(ink) / double(image.pixels.size() / 3);
}

}  // namespace glmv::test
