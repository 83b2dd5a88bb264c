// The user message for PDF pages: per page its image and, with PdfOptions::with_text, its text layer after it;
// then the question. The pages come from lib/media/pdf_inputs.h; the CLI, the server and the batch pipeline
// build their PDF requests here.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/media/image_inputs.h"
#include "lib/media/pdf_inputs.h"
#include "lib/prompt/chat_template.h"

namespace glmv {

struct PdfRequest {
  std::vector<int> page_numbers;       // of this request, in order
  std::vector<LoadedImage> pages;      // each page preprocessed (RequestMedia::AddImage takes them in order)
  std::vector<ChatContentPart> parts;  // the user message content (ChatMessage::content_is_list = true)
};

// Preprocesses pages [first, last) of `pdf` (PreprocessPdfPages: the page images move into the result, so each
// range is made once) and builds their user message ending in `question`.
Result<PdfRequest> MakePdfRequest(LoadedPdf& pdf, size_t first, size_t last, const std::string& question);

}  // namespace glmv
