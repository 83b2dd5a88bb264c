// --pdf on the command line: the flags as lib's PdfOptions (lib/media/pdf_inputs.h), and loading the document
// and making each request's pages through lib (lib/prompt/pdf_request.h) with a line per page on stderr.
#pragma once

#include <string>
#include <vector>

#include "apps/args.h"
#include "lib/media/image_preprocess.h"
#include "lib/media/input_limits.h"
#include "lib/media/pdf_inputs.h"
#include "lib/prompt/pdf_request.h"

namespace glmv::app {

// --pdf, --pages, --dpi, --password, --per-page, --with-text, --max-pages, --pdf-max-tokens.
std::vector<OptionSpec> PdfOptionSpecs();

// --pages, --dpi, --password, --per-page, --with-text, --max-pages, --pdf-max-tokens as they are; their ranges
// are checked when the PDF is loaded (PdfOptions::Validate), in errors that Explain() words as flags.
Result<PdfOptions> PdfOptionsFromArgs(const Args& args);

// LoadPdfFile, printing to stderr the pages chosen, each page's share of --pdf-max-tokens when the pages must
// share it, one line per rendered page, and MuPDF's notes when it had to repair the file.
Result<LoadedPdf> LoadPdf(const std::string& path, const PdfOptions& options, const ImagePreprocessConfig& config,
                          const InputLimits& limits = {});

// One line per page of `request` to stderr: its size, the size it was resized to, its visual tokens.
void PrintPdfRequest(const LoadedPdf& pdf, const PdfRequest& request);

}  // namespace glmv::app
