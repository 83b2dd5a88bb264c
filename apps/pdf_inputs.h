// --pdf on the command line: which pages, at what resolution, with which password, and whether the pages go to
// the model together or one request per page; then the rendered pages into the model's visual inputs and the
// user message (each page's image, with --with-text its text layer after it, then the question).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "apps/args.h"
#include "apps/input_limits.h"
#include "apps/visual_inputs.h"
#include "io/image.h"
#include "lib/prompt/chat_template.h"
#include "lib/media/image_preprocess.h"

namespace glmv::app {

// --pdf, --pages, --dpi, --password, --per-page, --with-text, --max-pages, --pdf-max-tokens.
std::vector<OptionSpec> PdfOptionSpecs();

struct LoadedPdf {
  std::string path;
  int page_count = 0;              // pages in the file
  bool per_page = false;           // --per-page: one request per page
  bool with_text = false;          // --with-text: each page's text layer goes into the prompt
  std::vector<int> page_numbers;   // 1-based, in the order --pages gave them
  std::vector<RgbImage> images;    // images[i] is page page_numbers[i] (moved out by MakePdfRequest)
  std::vector<std::string> texts;  // texts[i]: its text layer, UTF-8 ("" without --with-text, or for a scan)
  std::vector<double> dpis;        // dpis[i]: the resolution page page_numbers[i] was rendered at
  // The preprocessing for these pages: the caller's, with max_pixels lowered when the pages of one request
  // would otherwise exceed --pdf-max-tokens visual tokens together.
  ImagePreprocessConfig page_config;
  uint64_t decoded_bytes = 0;      // RGB bytes of the rendered pages (bounded by --max-decoded-bytes)
};

// Default of --pdf-max-tokens: the visual tokens of all pages in one request. The video processor's budget
// (30000 tokens), so a document costs the prompt at most what a long video does.
inline constexpr int64_t kDefaultPdfMaxTokens = 30000;

// The pixel budget for each page when `pages_per_request` pages share `max_tokens` visual tokens: `config`
// unchanged when every page fits at the model's own budget, else max_pixels lowered to the page's share
// (whole tokens of (patch·merge)² pixels, counted over the temporal patch as max_pixels is). An error when the
// share is below what min_pixels forces a page up to.
Result<ImagePreprocessConfig> PageConfigForTokenBudget(const ImagePreprocessConfig& config, int64_t pages_per_request,
                                                       int64_t max_tokens);

// "1-3,7" → {1, 2, 3, 7}; "5-" runs to the last page; an empty spec means every page. Pages are 1-based; a page
// past the end, a backwards range, a page listed twice or more than `max_pages` pages is an error that says which.
Result<std::vector<int>> ParsePageRanges(const std::string& spec, int page_count, int max_pages);

// Opens and renders the pages of the PDF at `path` (--pdf, or an --input that is a PDF), with the hostile-file
// limits of `limits` (--max-pages, --max-image-pixels, --max-decoded-bytes, --max-file-bytes,
// --decode-time-limit). Without --dpi each page gets the DPI (at most 300) that fits it into its pixel budget,
// page_config.max_pixels / temporal_patch_size, so the model's resize barely changes it. Prints one line per page
// to stderr, and MuPDF's notes when it had to repair the file.
Result<LoadedPdf> LoadPdf(const std::string& path, const Args& args, const ImagePreprocessConfig& config,
                          const InputLimits& limits = {});

// The requests to send, as [first, last) ranges into pdf.page_numbers: one range with every page, or with
// --per-page one range per page.
std::vector<std::pair<size_t, size_t>> PdfRequestRanges(const LoadedPdf& pdf);

struct PdfRequest {
  std::vector<int> page_numbers;       // of this request, for the "page N" heading of --per-page output
  LoadedImages images;                 // visual inputs and tokens per page, as LoadImages gives for --image
  std::vector<ChatContentPart> parts;  // the user message content (ChatMessage::content_is_list = true)
};

// Preprocesses pages [first, last) with pdf.page_config and builds their user message: per page its image and,
// with --with-text, its text layer; then `question`. The page images move from `pdf` into the result (they are
// what --draw-boxes draws on), so each range is made once. Prints one line per page (resized size, visual
// tokens) to stderr.
Result<PdfRequest> MakePdfRequest(LoadedPdf& pdf, size_t first, size_t last, const std::string& question);

}  // namespace glmv::app
