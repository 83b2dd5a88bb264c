// PDF input (io/decode_pdf.h): the real documents in shared/media/pdf render with the page counts their
// MANIFEST gives; the encrypted one opens only with its password; damaged and hostile PDFs (truncated, flipped
// bytes, empty, broken xref, page-tree loops, forged sizes, image bombs) end in an error naming the input or in
// sane pages, never a crash, hang or unbounded allocation. Runs under ASan/UBSan too (build-asan). In a build
// without MuPDF only the "no PDF support" error is checked.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/decode_pdf.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

fs::path Media() { return test::SharedDir() / "media"; }

bool HaveMediaAndPdf() {
  if (!PdfSupportBuiltIn()) {
    MESSAGE("skipped: " << PdfSupportNote());
    return false;
  }
  if (fs::exists(Media() / "MANIFEST.md")) return true;
  MESSAGE("skipped: " << Media().string() << " is absent");
  return false;
}

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// A PDF from object bodies (object i+1 is objects[i]; object 1 must be the catalog) with a correct xref table.
std::string MakePdf(const std::vector<std::string>& objects) {
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

// One page with a black rectangle, `box` as its MediaBox.
std::string OnePagePdf(const std::string& box = "[0 0 200 100]") {
  const std::string content = "0 0 0 rg 10 10 50 50 re f";
  return MakePdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                  "<< /Type /Page /Parent 2 0 R /MediaBox " + box + " /Contents 4 0 R >>",
                  "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream"});
}

// An error whose message starts with "name: " and says something, or pages of sane size.
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

// Fraction of pixels that are not white: a rendered page of text or pictures has some.
double InkFraction(const RgbImage& image) {
  size_t ink = 0;
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    if (image.pixels[i] < 200 || image.pixels[i + 1] < 200 || image.pixels[i + 2] < 200) ++ink;
  }
  return double(ink) / double(image.pixels.size() / 3);
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

TEST_CASE("pdf: a build without MuPDF says so") {
  if (PdfSupportBuiltIn()) return;
  auto r = DecodePdfFile("x.pdf");
  REQUIRE(!r.ok());
  CHECK(r.status().message().rfind("x.pdf: this build has no PDF support", 0) == 0);
}

TEST_CASE("pdf: every media PDF has the manifest's page count and renders its first and last page") {
  if (!HaveMediaAndPdf()) return;
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
  if (!HaveMediaAndPdf()) return;
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
  if (!HaveMediaAndPdf()) return;
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
  if (!HaveMediaAndPdf()) return;
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
  if (!HaveMediaAndPdf()) return;
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
  if (!HaveMediaAndPdf()) return;
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

TEST_CASE("pdf: page choice and limits are checked before rendering") {
  const std::string pdf =
      MakePdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R 3 0 R 3 0 R] /Count 3 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"});
  if (!PdfSupportBuiltIn()) return;
  PdfDecodeOptions options;
  options.pages = {4};
  auto r = DecodePdfBytes(Bytes(pdf), "three.pdf", options);
  REQUIRE(!r.ok());
  CHECK(r.status().message() == "three.pdf: page 4 does not exist (the PDF has 3 pages)");
  options.pages = {0};
  CHECK(!DecodePdfBytes(Bytes(pdf), "three.pdf", options).ok());
  options.pages = {};
  options.limits.max_pages = 2;
  r = DecodePdfBytes(Bytes(pdf), "three.pdf", options);
  REQUIRE(!r.ok());
  CHECK(r.status().message() ==
        "three.pdf: 3 pages requested, over the limit of 2 per document (PdfLimits::max_pages)");

  // Letter at 1200 dpi is 134.6 M pixels: refused from the page box, before any pixmap exists.
  options = {};
  options.pages = {1};
  options.render.dpi = 1200;
  r = DecodePdfBytes(Bytes(pdf), "three.pdf", options);
  REQUIRE(!r.ok());
  CHECK_MESSAGE(r.status().message().find("three.pdf: page 1: 612 x 792 pt at 1200.0 dpi is 134.6 M pixels") == 0,
                r.status().message());
  options.limits.max_bytes = 100;
  r = DecodePdfBytes(Bytes(pdf), "three.pdf", options);
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("over the limit of 100 (PdfLimits::max_bytes)") != std::string::npos);
}

TEST_CASE("pdf: /Rotate turns the page as viewers show it") {
  if (!PdfSupportBuiltIn()) return;
  const std::string pdf = OnePagePdf("[0 0 200 100] /Rotate 90");
  PdfDecodeOptions options;
  options.render.dpi = 72;
  auto r = DecodePdfBytes(Bytes(pdf), "rotated.pdf", options);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->pages[0].width_pt == 100);
  CHECK(r->pages[0].height_pt == 200);
  CHECK(r->pages[0].image.width == 100);
  CHECK(r->pages[0].image.height == 200);
  CHECK(r->messages.empty());  // a well-formed file: nothing repaired
}

TEST_CASE("pdf: MuPDF's heap cap and time limits end in errors") {
  if (!HaveMediaAndPdf()) return;
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

TEST_CASE("pdf: empty, not a PDF, missing file") {
  if (!PdfSupportBuiltIn()) return;
  test::TempDir dir;
  test::WriteBytes(dir / "empty.pdf", {});
  auto empty = DecodePdfFile((dir / "empty.pdf").string());
  REQUIRE(!empty.ok());
  CHECK(empty.status().message() == (dir / "empty.pdf").string() + ": empty file, not a PDF");
  auto text = DecodePdfBytes(Bytes("hello, not a pdf"), "notes.pdf");
  REQUIRE(!text.ok());
  CHECK(text.status().message() == "notes.pdf: not a PDF (no %PDF- header in the first 1024 bytes)");
  auto missing = DecodePdfFile((dir / "nope.pdf").string());
  REQUIRE(!missing.ok());
  CHECK(missing.status().message().find("cannot open") != std::string::npos);
  CHECK(!DecodePdfFile(dir.path().string()).ok());
  CHECK(LooksLikePdf(Bytes(std::string(500, '\n') + "%PDF-1.7")));
  CHECK(!LooksLikePdf(Bytes(std::string(1100, '\n') + "%PDF-1.7")));
}

TEST_CASE("pdf: truncated, flipped and broken-xref copies end in an error or sane pages") {
  if (!HaveMediaAndPdf()) return;
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
  // Broken xref: the startxref offset points into the middle of an object, and the table's entries are junk.
  std::string pdf = OnePagePdf();
  std::string broken = pdf;
  broken.replace(broken.rfind("startxref\n") + 10, std::string::npos, "77\n%%EOF\n");
  std::string junk_table = pdf;
  for (size_t at = junk_table.find("0000000"); at != std::string::npos; at = junk_table.find("0000000", at + 7)) {
    junk_table.replace(at, 7, "9999999");
  }
  for (const auto& [name, bytes] :
       {std::pair{std::string("bad-startxref.pdf"), broken}, std::pair{std::string("junk-xref.pdf"), junk_table}}) {
    auto r = DecodePdfBytes(Bytes(bytes), name);
    CheckErrorOrSane(r, name);
    REQUIRE_MESSAGE(r.ok(), r.status().message());  // MuPDF rebuilds the table by scanning the objects
    CHECK(InkFraction(r->pages[0].image) > 0.05);
    CHECK(!r->messages.empty());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("damaged PDFs: " << seconds << " s");
}

TEST_CASE("pdf: hostile structures: page-tree loop, forged boxes and counts, an image bomb") {
  if (!PdfSupportBuiltIn()) return;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"loop.pdf", MakePdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R] /Count 1 >>"})},
      {"count.pdf", MakePdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 2000000000 >>",
                             "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>"})},
      {"huge-box.pdf", OnePagePdf("[0 0 1e30 1e30]")},
      {"nan-box.pdf", OnePagePdf("[0 0 -5 nan]")},
      {"empty-box.pdf", OnePagePdf("[0 0 0 0]")},
      {"no-pages.pdf", MakePdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"})},
      // A 60000x60000 RGB image (10.8 GB decoded) from 3 bytes of data, drawn over the page.
      {"image-bomb.pdf", MakePdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                                  "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R "
                                  "/Resources << /XObject << /Im 5 0 R >> >> >>",
                                  "<< /Length 29 >>\nstream\nq 300 0 0 300 0 0 cm /Im Do Q\nendstream",
                                  "<< /Type /XObject /Subtype /Image /Width 60000 /Height 60000 /ColorSpace /DeviceRGB "
                                  "/BitsPerComponent 8 /Length 3 >>\nstream\nabc\nendstream"})},
  };
  for (const auto& [name, pdf] : cases) {
    const auto start = std::chrono::steady_clock::now();
    PdfDecodeOptions options;
    options.limits.max_library_bytes = 256 << 20;
    auto r = DecodePdfBytes(Bytes(pdf), name, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE(name << ": " << (r.ok() ? "rendered " + std::to_string(r->pages.size()) + " page(s)" : r.status().message())
                 << " in " << seconds << " s");
    CheckErrorOrSane(r, name);
    CHECK(seconds < 10);
  }
}

TEST_CASE("pdf: a page showing a 300 000-glyph string renders in linear time") {
  // Found by tests/fuzz (fuzz_pdf): MuPDF grows a text span by 36 glyphs per realloc, so where realloc copies
  // (always under ASan) one long string took minutes, beyond the reach of the time limit (MuPDF checks it
  // between operators, and this is one operator). The capped allocator now grows blocks by half at least.
  if (!PdfSupportBuiltIn()) return;
  const std::string content = "BT /F1 1 Tf 0 0 Td (" + std::string(300000, 'A') + ") Tj ET";
  const std::string pdf = MakePdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                                   "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "
                                   "/Resources << /Font << /F1 5 0 R >> >> >>",
                                   "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content +
                                       "\nendstream",
                                   "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"});
  const auto start = std::chrono::steady_clock::now();
  PdfDecodeOptions options;
  options.render.dpi = 72;
  options.render.extract_text = true;
  auto r = DecodePdfBytes(Bytes(pdf), "long-string.pdf", options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->pages[0].text.rfind("AAAA", 0) == 0);  // the glyphs on the page (the rest fall outside it)
  CHECK_MESSAGE(seconds < 20, seconds);     // quadratic copying took minutes under ASan
}

}  // namespace
}  // namespace glmv
