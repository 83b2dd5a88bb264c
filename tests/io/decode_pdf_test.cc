// PDF input (io/decode_pdf.h) on PDFs made here: page choice and limits, /Rotate; damaged and hostile PDFs
// (empty, broken xref, page-tree loops, forged sizes, image bombs) end in an error naming the input or in sane
// pages, never a crash, hang or unbounded allocation. Runs under ASan/UBSan too (build-asan). In a build without
// MuPDF only the "no PDF support" error is checked. The real documents of ../shared/media/pdf and damaged
// copies of them are decode_pdf_shared_test.cc.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "io/decode_pdf.h"
#include "tests/io/decode_pdf_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using test::CheckErrorOrSane;
using test::InkFraction;

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

TEST_CASE("pdf: a build without MuPDF says so") {
  if (PdfSupportBuiltIn()) return;
  auto r = DecodePdfFile("x.pdf");
  REQUIRE(!r.ok());
  CHECK(r.status().message().rfind("x.pdf: this build has no PDF support", 0) == 0);
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

TEST_CASE("pdf: broken-xref copies are rebuilt from their objects") {
  if (!PdfSupportBuiltIn()) return;
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
