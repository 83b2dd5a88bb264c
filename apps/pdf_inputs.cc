#include "apps/pdf_inputs.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <string_view>

#include "io/decode_pdf.h"

namespace glmv::app {
namespace {

constexpr int kDefaultMaxPages = PdfLimits{}.max_pages;
constexpr int kMinDpi = 10, kMaxDpi = 1200;  // below 10 nothing is legible; 1200 is a print master's

std::string_view Trim(std::string_view s, std::string_view blanks = " \t") {
  const size_t begin = s.find_first_not_of(blanks);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(blanks) - begin + 1);
}

// A whole decimal page number, or -1 (nothing else, no sign, no overflow).
long long PageNumber(std::string_view s) {
  s = Trim(s);
  long long v = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return -1;
  return v;
}

// "1-3, 7" for the stderr summary.
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
       fmt::format("N  refuse PDFs (or --pages lists) of more pages (default {})", kDefaultMaxPages)},
      {"--pdf-max-tokens", "", true,
       fmt::format("N  visual tokens all pages of one request may take together (default {}); when the pages would "
                   "take more, each page's resolution is lowered to its share (and so is the automatic DPI); it is "
                   "an error only when a share falls below the model's minimum image size",
                   kDefaultPdfMaxTokens)},
  };
}

Result<ImagePreprocessConfig> PageConfigForTokenBudget(const ImagePreprocessConfig& config, int64_t pages_per_request,
                                                       int64_t max_tokens) {
  if (pages_per_request < 1 || max_tokens < 1) return Status::Error("--pdf-max-tokens must be positive");
  // max_pixels counts T·h·w with T = temporal_patch_size for a still image; one token is factor² pixels.
  const int64_t pixels_per_token = int64_t{config.factor()} * config.factor() * config.temporal_patch_size;
  const int64_t share = max_tokens / pages_per_request;
  if (share * pixels_per_token >= config.max_pixels) return config;
  const int64_t min_tokens = (config.min_pixels + pixels_per_token - 1) / pixels_per_token;
  if (share < min_tokens) {
    return Status::Error(fmt::format(
        "{} pages in one request need at least {} visual tokens each ({} in all), more than --pdf-max-tokens {}: "
        "choose fewer --pages, use --per-page, or raise --pdf-max-tokens",
        pages_per_request, min_tokens, min_tokens * pages_per_request, max_tokens));
  }
  ImagePreprocessConfig page = config;
  page.max_pixels = share * pixels_per_token;
  return page;
}

Result<std::vector<int>> ParsePageRanges(const std::string& spec, int page_count, int max_pages) {
  const auto too_many = [&](long long n) {
    return Status::Error(fmt::format("{} pages selected, more than --max-pages {}", n, max_pages));
  };
  std::vector<int> pages;
  if (Trim(spec).empty()) {
    if (page_count > max_pages) {
      return Status::Error(
          fmt::format("the PDF has {} pages, more than --max-pages {}: choose some with --pages "
                      "(e.g. --pages 1-{}) or raise --max-pages",
                      page_count, max_pages, max_pages));
    }
    for (int p = 1; p <= page_count; ++p) pages.push_back(p);
    return pages;
  }
  std::set<int> seen;
  std::string_view rest = spec;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    const size_t dash = item.find('-');
    const long long first = PageNumber(item.substr(0, dash));
    long long last = first;
    if (dash != std::string_view::npos) {  // "5-" runs to the end
      const std::string_view upper = Trim(item.substr(dash + 1));
      last = upper.empty() ? page_count : PageNumber(upper);
    }
    if (first < 0 || last < 0) {
      return Status::Error("--pages: '" + std::string(item) + "' is not a page number or a range like 2-5 or 7-");
    }
    if (first == 0 || last == 0) return Status::Error("--pages: pages are numbered from 1");
    if (last < first) return Status::Error(fmt::format("--pages: the range {}-{} goes backwards", first, last));
    if (last > page_count) {
      return Status::Error(fmt::format("--pages: page {} is past the end (the PDF has {} page{})", last, page_count, page_count == 1 ? "" : "s"));
    }
    if (static_cast<long long>(pages.size()) + (last - first + 1) > max_pages) {
      return too_many(static_cast<long long>(pages.size()) + (last - first + 1));
    }
    for (long long p = first; p <= last; ++p) {
      if (!seen.insert(static_cast<int>(p)).second)
        return Status::Error(fmt::format("--pages: page {} is listed twice", p));
      pages.push_back(static_cast<int>(p));
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return pages;
}

Result<LoadedPdf> LoadPdf(const std::string& path, const Args& args, const ImagePreprocessConfig& config,
                          const InputLimits& input_limits) {
  LoadedPdf out;
  out.path = path;
  if (out.path.empty()) return Status::Error("--pdf needs a file");
  out.per_page = args.Has("--per-page");
  out.with_text = args.Has("--with-text");

  GLMV_ASSIGN_OR_RETURN(long long max_pages, args.GetInt("--max-pages", kDefaultMaxPages));
  if (max_pages < 1 || max_pages > 100000) {
    return Status::Error(fmt::format("--max-pages must be between 1 and 100000, got {}", max_pages));
  }
  PdfRenderOptions render;
  GLMV_ASSIGN_OR_RETURN(long long dpi, args.GetInt("--dpi", 0));
  if (args.Has("--dpi") && (dpi < kMinDpi || dpi > kMaxDpi)) {
    return Status::Error(fmt::format("--dpi must be between {} and {}, got {}", kMinDpi, kMaxDpi, dpi));
  }
  render.dpi = static_cast<double>(dpi);
  render.extract_text = out.with_text;
  GLMV_ASSIGN_OR_RETURN(const long long max_tokens, args.GetInt("--pdf-max-tokens", kDefaultPdfMaxTokens));
  if (max_tokens < 1) return Status::Error("--pdf-max-tokens must be positive");
  const PdfLimits limits = input_limits.ForPdf(static_cast<int>(max_pages));

  const std::string password = args.Get("--password");
  auto doc = PdfDocument::OpenFile(out.path, password, limits);
  if (!doc.ok()) {
    const std::string message = doc.status().message();
    if (!args.Has("--password") && message.ends_with("needs a password; none was given")) {
      return Status::Error(message + " (give it with --password)");
    }
    return doc.status();
  }
  out.page_count = doc->page_count();
  auto pages = ParsePageRanges(args.Get("--pages"), out.page_count, limits.max_pages);
  if (!pages.ok()) return pages.status().Annotate(out.path);
  out.page_numbers = std::move(pages).value();

  fmt::print(stderr, "pdf {}: {} page{}; using {} ({} page{}{})\n", out.path, out.page_count,
             out.page_count == 1 ? "" : "s", DescribePages(out.page_numbers), out.page_numbers.size(),
             out.page_numbers.size() == 1 ? "" : "s", out.per_page ? ", one request each" : "");
  const int64_t per_request = out.per_page ? 1 : static_cast<int64_t>(out.page_numbers.size());
  auto page_config = PageConfigForTokenBudget(config, per_request, max_tokens);
  if (!page_config.ok()) return page_config.status().Annotate(out.path);
  out.page_config = std::move(page_config).value();
  if (out.page_config.max_pixels < config.max_pixels) {
    fmt::print(stderr, "pdf {}: {} page{} share --pdf-max-tokens {}: each page is resized to at most {} visual tokens\n",
               out.path, per_request, per_request == 1 ? "" : "s", max_tokens,
               out.page_config.max_pixels / (int64_t{config.factor()} * config.factor() * config.temporal_patch_size));
  }
  render.target_pixels = static_cast<uint64_t>(
      std::max<int64_t>(1, out.page_config.max_pixels / out.page_config.temporal_patch_size));
  for (int number : out.page_numbers) {
    GLMV_ASSIGN_OR_RETURN(PdfPage page, doc->RenderPage(number, render));
    // Pages are kept until preprocessed: their sum is what --max-decoded-bytes bounds (one page over it at most,
    // since each page is within the per-page pixel limit before it is drawn).
    out.decoded_bytes += page.image.pixels.size();
    if (out.decoded_bytes > input_limits.max_decoded_bytes) {
      return Status::Error(fmt::format(
          "{}: the pages rendered up to page {} hold {} bytes of RGB, over the limit of {} (raise it with "
          "--max-decoded-bytes, or choose fewer --pages or a lower --dpi)",
          out.path, number, out.decoded_bytes, input_limits.max_decoded_bytes));
    }
    fmt::print(stderr, "  page {}: {:.0f}x{:.0f} pt at {:.0f} dpi -> {}x{} pixels{}, {:.2f} s\n", number, page.width_pt,
               page.height_pt, page.dpi, page.image.width, page.image.height,
               out.with_text ? fmt::format(", {} bytes of text", page.text.size()) : "", page.seconds);
    out.dpis.push_back(page.dpi);
    out.images.push_back(std::move(page.image));
    out.texts.push_back(std::move(page.text));
  }
  // MuPDF's notes say when a damaged file was repaired: the pages may not be what the author made.
  const auto& notes = doc->messages();
  for (size_t i = 0; i < notes.size() && i < 5; ++i) fmt::print(stderr, "  mupdf {}\n", notes[i]);
  if (notes.size() > 5) fmt::print(stderr, "  ({} more MuPDF messages)\n", notes.size() - 5);
  return out;
}

std::vector<std::pair<size_t, size_t>> PdfRequestRanges(const LoadedPdf& pdf) {
  const size_t n = pdf.page_numbers.size();
  if (!pdf.per_page) return {{0, n}};
  std::vector<std::pair<size_t, size_t>> ranges;
  for (size_t i = 0; i < n; ++i) ranges.emplace_back(i, i + 1);
  return ranges;
}

Result<PdfRequest> MakePdfRequest(LoadedPdf& pdf, size_t first, size_t last, const std::string& question) {
  const ImagePreprocessConfig& config = pdf.page_config;
  if (first > last || last > pdf.page_numbers.size() || pdf.images.size() != pdf.page_numbers.size()) {
    return Status::Error(fmt::format("{}: no pages [{}, {}) to send", pdf.path, first, last));
  }
  PdfRequest out;
  for (size_t i = first; i < last; ++i) {
    const int number = pdf.page_numbers[i];
    const std::string label = fmt::format("{} page {}", pdf.path, number);
    RgbImage& image = pdf.images[i];
    if (image.pixels.empty()) return Status::Error(label + ": already sent (MakePdfRequest moves the page image)");
    auto pre = PreprocessImage(image, config);
    if (!pre.ok()) return pre.status().Annotate(label);
    fmt::print(stderr, "{}: {}x{} -> {}x{}, {} visual tokens\n", label, image.width, image.height, pre->resized_width,
               pre->resized_height, pre->num_tokens);
    out.images.visual.image_pixels.insert(out.images.visual.image_pixels.end(), pre->pixel_values.begin(),
                                          pre->pixel_values.end());
    out.images.visual.image_grids.push_back({pre->grid_t, pre->grid_h, pre->grid_w});
    out.images.tokens_per_image.push_back(pre->num_tokens);
    out.images.paths.push_back(fmt::format("{}#page={}", pdf.path, number));
    out.images.images.push_back(std::move(image));
    image = RgbImage();
    out.page_numbers.push_back(number);

    out.parts.push_back({ChatContentPart::Type::kImage, ""});
    if (pdf.with_text) {
      const std::string_view text = Trim(pdf.texts[i], " \t\r\n\f");
      out.parts.push_back(
          {ChatContentPart::Type::kText, text.empty() ? fmt::format("(Page {} has no text layer.)\n", number)
                                                      : fmt::format("Text layer of page {}:\n{}\n", number, text)});
    }
  }
  out.parts.push_back({ChatContentPart::Type::kText, question});
  return out;
}

}  // namespace glmv::app
