// PDF documents → RGB page images and each page's text layer, through MuPDF. MuPDF is AGPL-3.0 and optional
// at build time (meson option `pdf`): this header exists in every build, and a build without MuPDF answers
// every call with an error that says so (io/decode_pdf_disabled.cc). MuPDF's headers stay in decode_pdf.cc.
//
// Hostile files are bounded, not trusted: the file size, the number of pages rendered, the pixels of each
// page (checked before the page is allocated), MuPDF's own heap (a capped allocator, so a bomb ends in an
// error instead of the OOM killer) and the render time per page and per document (MuPDF's cookie abort).
// MuPDF's warnings and errors are collected in messages(), not printed. One leak remains: Debian's MuPDF 1.21 keeps
// libjpeg's default message printer, so a damaged JPEG inside a PDF prints one "Corrupt JPEG data" line to stderr
// (later MuPDF releases silence it).
#pragma once

#include <cstddef>  // io/image.h uses size_t without including <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

// What one PDF may cost.
struct PdfLimits {
  // Size of the file, read whole into memory (MuPDF reads the document from there).
  uint64_t max_bytes = uint64_t{512} << 20;
  // Pages DecodePdf renders in one call; the whole document may have more.
  int max_pages = 50;
  // Pixels of one rendered page, refused before the pixmap exists. Same as DecodeLimits::max_pixels: 300 MB RGB.
  uint64_t max_pixels_per_page = 100'000'000;
  // MuPDF's heap: parsed objects, fonts, decoded images, display lists, scratch pixmaps for transparency groups
  // (up to 4 bytes per page pixel each). MuPDF empties its cache first when it reaches the cap.
  uint64_t max_library_bytes = uint64_t{1} << 30;
  // Render (and text extraction) time of one page, and of all pages of one document together. A page that runs
  // out of time is an error, never a half-drawn image.
  double max_page_seconds = 20;
  double max_total_seconds = 120;
};

struct PdfRenderOptions {
  // Resolution in dots per inch (1 pt = 1/72 in). 0 chooses it per page: the largest DPI, at most max_auto_dpi,
  // at which the page fits target_pixels, so the model's resize changes the page as little as possible.
  double dpi = 0;
  // Pixel budget of the automatic DPI. The default is GLM-4.5V's image budget for one picture:
  // ImagePreprocessConfig::max_pixels (9633792, counted over the 2 temporal frames) / temporal_patch_size (2).
  uint64_t target_pixels = 4'816'896;
  // 300 dpi is as fine as office scanners go; a tiny page (a 3x3 pt label) must not become a huge zoom.
  double max_auto_dpi = 300;
  // Also extract the page's text layer (UTF-8; empty for scans and image-only pages).
  bool extract_text = false;
};

struct PdfPage {
  int number = 0;                      // 1-based, as viewers count
  double width_pt = 0, height_pt = 0;  // the page box as shown (after /Rotate), in points
  double dpi = 0;                      // what it was rendered at
  RgbImage image;                      // on white, as viewers show it
  std::string text;                    // UTF-8; lines end in '\n', blocks are separated by an empty line
  double seconds = 0;                  // rendering plus text extraction
};

// An open document; pages are rendered on demand, so one page at a time needs only one page of memory.
// One thread at a time per document; different documents may render in different threads at once.
class PdfDocument {
 public:
  // Reads and opens the file at `path`. Encrypted documents need `password` (the user or the owner password);
  // without one, or with a wrong one, the error says which. Every error message starts with the path.
  static Result<PdfDocument> OpenFile(const std::string& path, const std::string& password = "",
                                      const PdfLimits& limits = {});
  // Opens a PDF held in memory (copied). `name_for_messages` starts every error message.
  static Result<PdfDocument> OpenBytes(std::span<const uint8_t> bytes, const std::string& name_for_messages,
                                       const std::string& password = "", const PdfLimits& limits = {});

  PdfDocument(PdfDocument&& other) noexcept;
  PdfDocument& operator=(PdfDocument&& other) noexcept;
  ~PdfDocument();

  int page_count() const;
  const std::string& name() const;
  // Renders page `number` (1-based). Damage MuPDF can work around (a broken xref, a bad content stream) gives a
  // page and a note in messages(); damage it cannot gives an error naming the document and the page.
  Result<PdfPage> RenderPage(int number, const PdfRenderOptions& options = {});
  // MuPDF's warnings and errors so far ("warning: repairing PDF document"), oldest first, at most 100.
  const std::vector<std::string>& messages() const;

 private:
  struct Impl;
  explicit PdfDocument(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct PdfDecodeOptions {
  std::vector<int> pages;  // 1-based, rendered in this order; empty: every page (if within limits.max_pages)
  std::string password;
  PdfRenderOptions render;
  PdfLimits limits;
};

struct DecodedPdf {
  int page_count = 0;                 // pages in the document
  std::vector<PdfPage> pages;         // the requested pages, in the requested order
  std::vector<std::string> messages;  // PdfDocument::messages() after the last page
};

// Opens the document and renders the requested pages. Asking for more than limits.max_pages pages, or for a page
// the document does not have, is an error before anything is rendered.
Result<DecodedPdf> DecodePdfFile(const std::string& path, const PdfDecodeOptions& options = {});
Result<DecodedPdf> DecodePdfBytes(std::span<const uint8_t> bytes, const std::string& name_for_messages,
                                  const PdfDecodeOptions& options = {});

// "%PDF-" within the first 1024 bytes, where readers accept it (junk may precede the header). Inline so that
// content sniffing works in builds without MuPDF too.
inline bool LooksLikePdf(std::span<const uint8_t> bytes) {
  const std::string_view head(reinterpret_cast<const char*>(bytes.data()), bytes.size() < 1024 ? bytes.size() : 1024);
  return head.find("%PDF-") != std::string_view::npos;
}

// False when this build has no PDF support; PdfSupportNote() then says why (configured with -Dpdf=disabled, or
// MuPDF was not found), in the words every PDF call uses in its error.
bool PdfSupportBuiltIn();
std::string PdfSupportNote();

}  // namespace glmv
