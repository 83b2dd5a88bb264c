// PDF input (io/decode_pdf.h) on the real documents of ../shared/media (the executable skips, exit 77, without
// it): they render with the page counts their MANIFEST gives; the encrypted one opens only with its password;
// truncated and bit-flipped copies end in an error naming the input or in sane pages, never a crash, hang or
// unbounded allocation; MuPDF's heap cap and time limits hold. Runs under ASan/UBSan too (build-asan). In a build
// without MuPDF these cases have nothing to run and say so.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/decode_pdf.h"
#include "tests/io/decode_pdf_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

using test::CheckErrorOrSane;
using test::InkFraction;

fs::path Media() { return test::SharedDir() / "media"; }

// True when this build renders PDFs (else the case has nothing to run); ../shared is there (else the
// executable skipped), and its media part must be too.
bool PdfSupportAndMedia() {
  if (!PdfSupportBuiltIn()) {
    MESSAGE("not run: " << PdfSupportNote());
    return false;
  }
  const fs::path manifest = Media() / "MANIFEST.md";
  REQUIRE_MESSAGE(fs::exists(manifest), manifest.string() << " is missing from ../shared");
  return true;
}

bool ValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n;
  }
  return true;
}

TEST_CASE("pdf: every media PDF has the manifest's page count and renders its first and last page") {
  if (!PdfSupportAndMedia()) return;
  const std::vector<std::pair<std::string, int>> expected = {{"exiftool-MIE1.1-spec.pdf", 22},
                                                             {"forensics-a-text.pdf", 2},
                                                             {"nbsphinx-manual.pdf", 75},
                                                             {"podofo-sample-32pages.pdf", 32},
                                                             {"shattered-1-image-only.pdf", 1}};
  for (const auto& [file, count] : expected) {
    const std::string path = (Media() / "pdf" / file).string();
    PdfDecodeOptions options;
    options.pages = {1, count};
    options.render.extract_text = true;
    auto r = DecodePdfFile(path, options);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->page_count == count);
    REQUIRE(r->pages.size() == 2);
    for (const auto& page : r->pages) {
      const uint64_t pixels = uint64_t(page.image.width) * uint64_t(page.image.height);
      MESSAGE(file << " page " << page.number << ": " << page.width_pt << "x" << page.height_pt << " pt at " << page.dpi
                   << " dpi -> " << page.image.width << "x" << page.image.height << " in " << page.seconds << " s, "
                   << page.text.size() << " bytes of text");
      CHECK(pixels <= options.render.target_pixels);
      // The automatic DPI uses the budget, unless the 300 dpi cap stops it first (podofo's small pages).
      CHECK(page.dpi <= options.render.max_auto_dpi);
      if (page.dpi < options.render.max_auto_dpi) CHECK(pixels >= options.render.target_pixels * 97 / 100);
      CHECK(InkFraction(page.image) > 0.0002);  // forensics-a-text's page 2 is one short line
      CHECK(ValidUtf8(page.text));
    }
    // The text layer: none in the scan-like PDF, and none in podofo's (its page numbers are drawn outlines).
    const std::string& text = r->pages[0].text;
    if (file == "shattered-1-image-only.pdf" || file == "podofo-sample-32pages.pdf") {
      CHECK(text.find_first_not_of(" \n") == std::string::npos);
    } else if (file == "forensics-a-text.pdf") {
      CHECK(text.find("This is a text from LibreOffice Writer") != std::string::npos);
    } else {
      CHECK(text.size() > 100);
    }
    if (file == "shattered-1-image-only.pdf") CHECK(InkFraction(r->pages[0].image) > 0.2);
  }
}

TEST_CASE("pdf: every page of every media PDF renders (at 30 dpi)") {
  if (!PdfSupportAndMedia()) return;
  int pages = 0;
  for (const auto& entry : fs::directory_iterator(Media() / "pdf")) {
    PdfDecodeOptions options;
    options.render.dpi = 30;
    options.limits.max_pages = 100;
    auto r = DecodePdfFile(entry.path().string(), options);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(int(r->pages.size()) == r->page_count);
    for (const auto& page : r->pages) {
      CHECK(page.image.width == int(std::ceil(page.width_pt * 30 / 72 - 0.01)));
      CHECK(page.image.height == int(std::ceil(page.height_pt * 30 / 72 - 0.01)));
    }
    pages += int(r->pages.size());
  }
  CHECK(pages == 22 + 2 + 75 + 32 + 1);
}

TEST_CASE("pdf: text layer, page order, bytes and file agree") {
  if (!PdfSupportAndMedia()) return;
  const fs::path path = Media() / "pdf" / "forensics-a-text.pdf";
  PdfDecodeOptions options;
  options.pages = {2, 1};
  options.render.dpi = 50;
  options.render.extract_text = true;
  auto from_file = DecodePdfFile(path.string(), options);
  REQUIRE_MESSAGE(from_file.ok(), from_file.status().message());
  auto from_bytes = DecodePdfBytes(test::ReadBytes(path), "upload.pdf", options);
  REQUIRE_MESSAGE(from_bytes.ok(), from_bytes.status().message());
  REQUIRE(from_file->pages.size() == 2);
  CHECK(from_file->pages[0].number == 2);
  CHECK(from_file->pages[1].number == 1);
  for (int i = 0; i < 2; ++i) {
    CHECK(from_file->pages[i].image.pixels == from_bytes->pages[i].image.pixels);
    CHECK(from_file->pages[i].text == from_bytes->pages[i].text);
  }
  CHECK(from_file->messages.empty());
}

TEST_CASE("pdf: documents render in parallel threads as they do alone") {
  if (!PdfSupportAndMedia()) return;
  const std::vector<std::string> files = {"nbsphinx-manual.pdf", "shattered-1-image-only.pdf"};
  PdfDecodeOptions options;
  options.pages = {1};
  options.render.target_pixels = 300'000;
  std::vector<Result<DecodedPdf>> alone, together(files.size(), Status::Error("not run"));
  for (const auto& f : files) alone.push_back(DecodePdfFile((Media() / "pdf" / f).string(), options));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < files.size(); ++i) {
    threads.emplace_back([&, i] { together[i] = DecodePdfFile((Media() / "pdf" / files[i]).string(), options); });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < files.size(); ++i) {
    REQUIRE(alone[i].ok());
    REQUIRE(together[i].ok());
    CHECK(alone[i]->pages[0].image.pixels == together[i]->pages[0].image.pixels);
  }
}

TEST_CASE("pdf: the encrypted PDF needs its password") {
  if (!PdfSupportAndMedia()) return;
  const std::string path = (Media() / "malformed" / "pdf" / "forensics-a-text-encrypted-pw-peanuts.pdf").string();
  auto none = DecodePdfFile(path);
  REQUIRE(!none.ok());
  CHECK(none.status().message() == path + ": the PDF is encrypted and needs a password; none was given");
  PdfDecodeOptions wrong;
  wrong.password = "walnuts";
  auto bad = DecodePdfFile(path, wrong);
  REQUIRE(!bad.ok());
  CHECK(bad.status().message() == path + ": wrong password for the encrypted PDF");

  PdfDecodeOptions right;
  right.password = "peanuts";
  right.render.extract_text = true;
  auto opened = DecodePdfFile(path, right);
  REQUIRE_MESSAGE(opened.ok(), opened.status().message());
  CHECK(opened->page_count == 2);
  PdfDecodeOptions plain_options;
  plain_options.render.extract_text = true;
  auto plain = DecodePdfFile((Media() / "pdf" / "forensics-a-text.pdf").string(), plain_options);
  REQUIRE(plain.ok());
  CHECK(opened->pages[0].text == plain->pages[0].text);  // same document, encrypted
  CHECK(opened->pages[0].text.find("This is a text from LibreOffice Writer") != std::string::npos);
}

TEST_CASE("pdf: the edge-case PDF without xref is repaired or refused clearly") {
  if (!PdfSupportAndMedia()) return;
  const std::string path = (Media() / "edge" / "afl-small.pdf").string();
  auto r = DecodePdfFile(path);
  CheckErrorOrSane(r, path);
  if (r.ok()) {
    MESSAGE("afl-small.pdf: " << r->pages[0].image.width << "x" << r->pages[0].image.height << ", "
                              << r->messages.size()
                              << " MuPDF messages, first: " << (r->messages.empty() ? "" : r->messages[0]));
    CHECK(r->pages[0].dpi == doctest::Approx(300));  // a 3x3 pt page stops at the automatic DPI's cap
    CHECK(!r->messages.empty());                     // the repair is reported, not printed
  }
}

TEST_CASE("pdf: MuPDF's heap cap and time limits end in errors") {
  if (!PdfSupportAndMedia()) return;
  const std::string path = (Media() / "pdf" / "nbsphinx-manual.pdf").string();
  PdfDecodeOptions options;
  options.pages = {1, 2, 3};
  options.limits.max_library_bytes = 1 << 20;  // 1 MB: not even the xref fits
  auto r = DecodePdfFile(path, options);
  REQUIRE(!r.ok());
  CHECK(r.status().message().rfind(path + ": ", 0) == 0);
  CHECK(r.status().message().find("memory limit of 1 MB") != std::string::npos);
  MESSAGE("1 MB heap: " << r.status().message());

  options.limits = {};
  options.limits.max_page_seconds = 1e-9;
  r = DecodePdfFile(path, options);
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("rendering took longer than") != std::string::npos);

  auto doc = PdfDocument::OpenFile(path, "", PdfLimits{.max_total_seconds = 0.01});
  REQUIRE(doc.ok());
  Status last;
  for (int page = 1; page <= 75 && last.ok(); ++page) last = doc->RenderPage(page).status();
  CHECK_MESSAGE(last.message().find("PdfLimits::max_total_seconds") != std::string::npos, last.message());
}

TEST_CASE("pdf: truncated and flipped copies of media PDFs end in an error or sane pages") {
  if (!PdfSupportAndMedia()) return;
  const auto start = std::chrono::steady_clock::now();
  for (const std::string file : {"forensics-a-text.pdf", "podofo-sample-32pages.pdf"}) {
    const auto original = test::ReadBytes(Media() / "pdf" / file);
    const std::string name = "damaged-" + file;
    PdfDecodeOptions options;
    options.pages = {1};
    options.render.target_pixels = 200'000;  // small pages: this is about robustness, not pixels
    options.render.extract_text = true;
    int errors = 0, renders = 0;
    std::vector<size_t> cuts = {0, 1, 4, 5, 8, 16, 100, original.size() - 1, original.size() - 6};
    for (int i = 1; i <= 24; ++i) cuts.push_back(original.size() * i / 25);
    for (size_t cut : cuts) {
      auto r = DecodePdfBytes(std::span(original.data(), cut), name, options);
      CheckErrorOrSane(r, name);
      r.ok() ? ++renders : ++errors;
    }
    std::mt19937 rng(42);
    for (int trial = 0; trial < 60; ++trial) {
      auto bytes = original;
      for (int f = 0; f < 1 + trial % 8; ++f) bytes[rng() % bytes.size()] ^= uint8_t(1 + rng() % 255);
      auto r = DecodePdfBytes(bytes, name, options);
      CheckErrorOrSane(r, name);
      r.ok() ? ++renders : ++errors;
    }
    MESSAGE(file << ": " << errors << " damaged copies refused, " << renders << " repaired and rendered");
    CHECK(errors > 0);  // at least the tiny cuts
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("damaged PDFs: " << seconds << " s");
}

}  // namespace
}  // namespace glmv
