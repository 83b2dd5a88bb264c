// A PDF as pictures for the model: which pages, at what resolution, with which password, how many visual tokens
// the pages of one request may take together, and whether the pages go to the model together or one request
// per page (PdfOptions); then the document opened within the request's limits (io/decode_pdf.h), the pages
// rendered, and each page preprocessed as an image. The user message around the pages is lib/prompt's
// (pdf_request.h).
//
// Errors name the setting that stopped them by its field, as the decoders name their limits: "PdfOptions::pages:
// page 3 is past the end (the PDF has 2 pages)", "(raise it with InputLimits::max_decoded_bytes, ...)". A caller
// with its own names for them (the CLI's flags, a server's JSON fields) puts those in their place.
#pragma once

#include <cstddef>  // io/image.h uses size_t without including <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "io/decode_pdf.h"
#include "io/status.h"
#include "lib/media/image_inputs.h"
#include "lib/media/image_preprocess.h"
#include "lib/media/input_limits.h"

namespace glmv {

// Default of PdfOptions::max_tokens: the visual tokens of all pages in one request. The video processor's budget
// (30000 tokens), so a document costs the prompt at most what a long video does.
inline constexpr int64_t kDefaultPdfMaxTokens = 30000;

struct PdfOptions {
  std::string pages;                // "1-3,7", "5-" (to the last page); empty: every page, up to max_pages
  std::optional<int64_t> dpi;       // 10 to 1200; unset: per page, the most (at most 300) that fits its budget
  std::string password;             // of an encrypted PDF (the user or the owner password)
  bool per_page = false;            // one request per page instead of all pages in one
  bool with_text = false;           // each page's text layer goes into the prompt after its image
  int64_t max_pages = PdfLimits{}.max_pages;  // pages a document (or `pages`) may select: 1 to 100000
  int64_t max_tokens = kDefaultPdfMaxTokens;  // visual tokens of all pages of one request together (> 0)

  // The ranges above; the error names the field ("PdfOptions::dpi must be between 10 and 1200, got 5").
  Status Validate() const;
};

// The pixel budget for each page when `pages_per_request` pages share `max_tokens` visual tokens: `config`
// unchanged when every page fits at the model's own budget, else max_pixels lowered to the page's share
// (whole tokens of (patch·merge)² pixels, counted over the temporal patch as max_pixels is). An error when the
// share is below what min_pixels forces a page up to.
Result<ImagePreprocessConfig> PageConfigForTokenBudget(const ImagePreprocessConfig& config, int64_t pages_per_request,
                                                       int64_t max_tokens);

// "1-3,7" → {1, 2, 3, 7}; "5-" runs to the last page; an empty spec means every page. Pages are 1-based; a page
// past the end, a backwards range, a page listed twice or more than `max_pages` pages is an error that says which.
Result<std::vector<int>> ParsePageRanges(const std::string& spec, int page_count, int64_t max_pages);

struct LoadedPdf {
  std::string name;               // the path, or the caller's name for the bytes
  int page_count = 0;             // pages in the file
  bool per_page = false;          // PdfOptions::per_page
  bool with_text = false;         // PdfOptions::with_text
  std::vector<int> page_numbers;  // 1-based, in the order PdfOptions::pages gave them
  // pages[i] is page page_numbers[i]: size in points, DPI, render time, image (moved out by PreprocessPdfPages)
  // and text layer (UTF-8; "" without with_text, or for a scan).
  std::vector<PdfPage> pages;
  // The preprocessing for these pages: the caller's, with max_pixels lowered when the pages of one request
  // would otherwise exceed PdfOptions::max_tokens visual tokens together.
  ImagePreprocessConfig page_config;
  uint64_t decoded_bytes = 0;         // RGB bytes of the rendered pages (bounded by InputLimits::max_decoded_bytes)
  std::vector<std::string> messages;  // MuPDF's notes, e.g. that it repaired a damaged file
};

// For a caller that shows progress as it happens (the CLI prints a line each); either may be empty.
struct PdfLoadProgress {
  // The pages are chosen: page_count and page_numbers are set. Nothing is rendered yet, and page_config is not
  // set yet either (PageConfigForTokenBudget gives it, or the error LoadPdf* will return).
  std::function<void(const LoadedPdf& pdf)> pages_chosen;
  // pdf.pages.back() has just been rendered.
  std::function<void(const LoadedPdf& pdf)> page_rendered;
};

// Opens the PDF within limits.ForPdf(options.max_pages) and renders the chosen pages. Without a DPI each page
// gets the DPI (at most 300) that fits it into its pixel budget, page_config.max_pixels / temporal_patch_size,
// so the model's resize barely changes it. The pages together are bounded by limits.max_decoded_bytes.
Result<LoadedPdf> LoadPdfFile(const std::string& path, const PdfOptions& options, const ImagePreprocessConfig& config,
                              const InputLimits& limits = {}, const PdfLoadProgress& progress = {});
// The same for a PDF held in memory (copied); `name` starts every error message and becomes LoadedPdf::name.
Result<LoadedPdf> LoadPdfBytes(std::span<const uint8_t> bytes, const std::string& name, const PdfOptions& options,
                               const ImagePreprocessConfig& config, const InputLimits& limits = {},
                               const PdfLoadProgress& progress = {});

// The requests to send, as [first, last) ranges into pdf.page_numbers: one range with every page, or with
// per_page one range per page.
std::vector<std::pair<size_t, size_t>> PdfRequestRanges(const LoadedPdf& pdf);

// Preprocesses pages [first, last) with pdf.page_config, named "NAME#page=N". The page images move from `pdf`
// into the result, so each page is preprocessed once; errors name the document and the page.
Result<std::vector<LoadedImage>> PreprocessPdfPages(LoadedPdf& pdf, size_t first, size_t last);

}  // namespace glmv
