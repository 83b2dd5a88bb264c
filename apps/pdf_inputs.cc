#include "apps/pdf_inputs.h"

#include <fmt/core.h>

namespace glmv::app {
namespace {

// "1-3,7" for the stderr summary.
std::string DescribePages(const std::vector<int>& pages) {
  std::string out;
  for (size_t i = 0; i < pages.size();) {
    size_t j = i;
    while (j + 1 < pages.size() && pages[j + 1] == pages[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += j > i ? fmt::format("{}-{}", pages[i], pages[j]) : std::to_string(pages[i]);
    i = j + 1;
  }
  return out;
}

const char* Plural(size_t n) { return n == 1 ? "" : "s"; }

}  // namespace

std::vector<OptionSpec> PdfOptionSpecs() {
  return {
      {"--pdf", "", true, "FILE  a PDF whose pages the model sees as images"},
      {"--pages", "", true, "LIST  pages to use, 1-based: 1-3,7 or 5- (default: all, up to --max-pages)"},
      {"--dpi", "", true,
       "N  render at N dots per inch (default: per page, the most that fits the image pixel budget, at most 300)"},
      {"--password", "", true, "TEXT  password of an encrypted PDF"},
      {"--per-page", "", false, "ask about each page separately, one answer per page"},
      {"--with-text", "", false, "also put each page's text layer into the prompt, after its image"},
      {"--max-pages", "", true,
       fmt::format("N  refuse PDFs (or --pages lists) of more pages (default {})", PdfOptions{}.max_pages)},
      {"--pdf-max-tokens", "", true,
       fmt::format("N  visual tokens all pages of one request may take together (default {}); when the pages would "
                   "take more, each page's resolution is lowered to its share (and so is the automatic DPI); it is "
                   "an error only when a share falls below the model's minimum image size",
                   kDefaultPdfMaxTokens)},
  };
}

Result<PdfOptions> PdfOptionsFromArgs(const Args& args) {
  PdfOptions o;
  o.pages = args.Get("--pages");
  o.password = args.Get("--password");
  o.per_page = args.Has("--per-page");
  o.with_text = args.Has("--with-text");
  GLMV_ASSIGN_OR_RETURN(o.max_pages, args.GetInt("--max-pages", o.max_pages));
  if (args.Has("--dpi")) {
    GLMV_ASSIGN_OR_RETURN(o.dpi, args.GetInt("--dpi", 0));
  }
  GLMV_ASSIGN_OR_RETURN(o.max_tokens, args.GetInt("--pdf-max-tokens", o.max_tokens));
  return o;
}

Result<LoadedPdf> LoadPdf(const std::string& path, const PdfOptions& options, const ImagePreprocessConfig& config,
                          const InputLimits& limits) {
  PdfLoadProgress progress;
  progress.pages_chosen = [&](const LoadedPdf& pdf) {
    const size_t n = pdf.page_numbers.size();
    fmt::print(stderr, "pdf {}: {} page{}; using {} ({} page{}{})\n", pdf.name, pdf.page_count,
               Plural(pdf.page_count), DescribePages(pdf.page_numbers), n, Plural(n),
               pdf.per_page ? ", one request each" : "");
    // The budget LoadPdfFile applies next (an error there is its to report).
    const size_t per_request = pdf.per_page ? 1 : n;
    auto page_config = PageConfigForTokenBudget(config, static_cast<int64_t>(per_request), options.max_tokens);
    if (page_config.ok() && page_config->max_pixels < config.max_pixels) {
      fmt::print(stderr, "pdf {}: {} page{} share --pdf-max-tokens {}: each page is resized to at most {} visual tokens\n",
                 pdf.name, per_request, Plural(per_request), options.max_tokens,
                 page_config->max_pixels / (int64_t{config.factor()} * config.factor() * config.temporal_patch_size));
    }
  };
  progress.page_rendered = [&](const LoadedPdf& pdf) {
    const PdfPage& page = pdf.pages.back();
    fmt::print(stderr, "  page {}: {:.0f}x{:.0f} pt at {:.0f} dpi -> {}x{} pixels{}, {:.2f} s\n", page.number,
               page.width_pt, page.height_pt, page.dpi, page.image.width, page.image.height,
               pdf.with_text ? fmt::format(", {} bytes of text", page.text.size()) : "", page.seconds);
  };
  GLMV_ASSIGN_OR_RETURN(LoadedPdf pdf, LoadPdfFile(path, options, config, limits, progress));
  // MuPDF's notes say when a damaged file was repaired: the pages may not be what the author made.
  const auto& notes = pdf.messages;
  for (size_t i = 0; i < notes.size() && i < 5; ++i) fmt::print(stderr, "  mupdf {}\n", notes[i]);
  if (notes.size() > 5) fmt::print(stderr, "  ({} more MuPDF messages)\n", notes.size() - 5);
  return pdf;
}

void PrintPdfRequest(const LoadedPdf& pdf, const PdfRequest& request) {
  for (size_t i = 0; i < request.pages.size() && i < request.page_numbers.size(); ++i) {
    const LoadedImage& page = request.pages[i];
    const PreprocessedImage& pre = page.preprocessed;
    fmt::print(stderr, "{} page {}: {}x{} -> {}x{}, {} visual tokens\n", pdf.name, request.page_numbers[i],
               page.image.width, page.image.height, pre.resized_width, pre.resized_height, pre.num_tokens);
  }
}

}  // namespace glmv::app
