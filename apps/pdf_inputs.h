// --pdf on the command line: which pages, at what resolution, with which password, and whether the pages go to
// the model together or one request per page; then the rendered pages into the model's visual inputs and the
// user message (each page's image, with --with-text its text layer after it, then the question).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "apps/args.h"
#include "apps/visual_inputs.h"
#include "io/image.h"
#include "lib/chat_template.h"
#include "lib/image_preprocess.h"

namespace glmv::app {

// --pdf, --pages, --dpi, --password, --per-page, --with-text, --max-pages.
std::vector<OptionSpec> PdfOptionSpecs();

struct LoadedPdf {
  std::string path;
  int page_count = 0;              // pages in the file
  bool per_page = false;           // --per-page: one request per page
  bool with_text = false;          // --with-text: each page's text layer goes into the prompt
  std::vector<int> page_numbers;   // 1-based, in the order --pages gave them
  std::vector<RgbImage> images;    // images[i] is page page_numbers[i] (moved out by MakePdfRequest)
  std::vector<std::string> texts;  // texts[i]: its text layer, UTF-8 ("" without --with-text, or for a scan)
};

// "1-3,7" → {1, 2, 3, 7}; "5-" runs to the last page; an empty spec means every page. Pages are 1-based; a page
// past the end, a backwards range, a page listed twice or more than `max_pages` pages is an error that says which.
Result<std::vector<int>> ParsePageRanges(const std::string& spec, int page_count, int max_pages);

// Opens and renders the --pdf file's pages. Without --dpi each page gets the DPI (at most 300) that fits it into
// one image's pixel budget, config.max_pixels / config.temporal_patch_size, so the model's resize barely changes
// it. Prints one line per page to stderr, and MuPDF's notes when it had to repair the file.
Result<LoadedPdf> LoadPdf(const Args& args, const ImagePreprocessConfig& config);

// The requests to send, as [first, last) ranges into pdf.page_numbers: one range with every page, or with
// --per-page one range per page.
std::vector<std::pair<size_t, size_t>> PdfRequestRanges(const LoadedPdf& pdf);

struct PdfRequest {
  std::vector<int> page_numbers;       // of this request, for the "page N" heading of --per-page output
  LoadedImages images;                 // visual inputs and tokens per page, as LoadImages gives for --image
  std::vector<ChatContentPart> parts;  // the user message content (ChatMessage::content_is_list = true)
};

// Preprocesses pages [first, last) and builds their user message: per page its image and, with --with-text, its
// text layer; then `question`. The page images move from `pdf` into the result (they are what --draw-boxes
// draws on), so each range is made once. Prints one line per page (resized size, visual tokens) to stderr.
Result<PdfRequest> MakePdfRequest(LoadedPdf& pdf, size_t first, size_t last, const std::string& question,
                                  const ImagePreprocessConfig& config);

}  // namespace glmv::app
