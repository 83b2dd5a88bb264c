#include "lib/media/pdf_inputs.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <string_view>

namespace glmv {
namespace {

constexpr int64_t kMinDpi = 10, kMaxDpi = 1200;  // below 10 nothing is legible; 1200 is a print master's
constexpr int64_t kMaxMaxPages = 100000;

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// A whole decimal page number, or -1 (nothing else, no sign, no overflow).
long long PageNumber(std::string_view s) {
  s = Trim(s);
  long long v = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return -1;
  return v;
}

std::string Str(long long v) { return std::to_string(v); }

// MuPDF's "needs a password; none was given", with the setting that gives one.
Status WithPasswordHint(const Status& status, const PdfOptions& options) {
  if (!options.password.empty() || !status.message().ends_with("needs a password; none was given")) return status;
  return Status::Error(status.message() + " (give it with PdfOptions::password)");
}

// Chooses the pages of the open `doc` and renders them; the rest of LoadPdfFile and LoadPdfBytes.
Result<LoadedPdf> LoadPages(PdfDocument& doc, const std::string& name, const PdfOptions& options,
                            const ImagePreprocessConfig& config, const InputLimits& limits,
                            const PdfLoadProgress& progress) {
  LoadedPdf out;
  out.name = name;
  out.per_page = options.per_page;
  out.with_text = options.with_text;
  out.page_count = doc.page_count();
  auto pages = ParsePageRanges(options.pages, out.page_count, options.max_pages);
  if (!pages.ok()) return pages.status().Annotate(name);
  out.page_numbers = std::move(pages).value();
  if (progress.pages_chosen) progress.pages_chosen(out);
  const int64_t per_request = out.per_page ? 1 : static_cast<int64_t>(out.page_numbers.size());
  auto page_config = PageConfigForTokenBudget(config, per_request, options.max_tokens);
  if (!page_config.ok()) return page_config.status().Annotate(name);
  out.page_config = std::move(page_config).value();

  PdfRenderOptions render;
  render.dpi = options.dpi ? static_cast<double>(*options.dpi) : 0;
  render.extract_text = options.with_text;
  render.target_pixels = static_cast<uint64_t>(
      std::max<int64_t>(1, out.page_config.max_pixels / out.page_config.temporal_patch_size));
  for (int number : out.page_numbers) {
    GLMV_ASSIGN_OR_RETURN(PdfPage page, doc.RenderPage(number, render));
    // Pages are kept until preprocessed: their sum is what max_decoded_bytes bounds (one page over it at most,
    // since each page is within the per-page pixel limit before it is drawn).
    out.decoded_bytes += page.image.pixels.size();
    if (out.decoded_bytes > limits.max_decoded_bytes) {
      return Status::Error(name + ": the pages rendered up to page " + Str(number) + " hold " +
                           Str(static_cast<long long>(out.decoded_bytes)) + " bytes of RGB, over the limit of " +
                           Str(static_cast<long long>(limits.max_decoded_bytes)) +
                           " (raise it with InputLimits::max_decoded_bytes, or choose fewer PdfOptions::pages or a "
                           "lower PdfOptions::dpi)");
    }
    out.pages.push_back(std::move(page));
    if (progress.page_rendered) progress.page_rendered(out);
  }
  out.messages = doc.messages();
  return out;
}

}  // namespace

Status PdfOptions::Validate() const {
  if (max_pages < 1 || max_pages > kMaxMaxPages) {
    return Status::Error("PdfOptions::max_pages must be between 1 and " + Str(kMaxMaxPages) + ", got " +
                         Str(max_pages));
  }
  if (dpi && (*dpi < kMinDpi || *dpi > kMaxDpi)) {
    return Status::Error("PdfOptions::dpi must be between " + Str(kMinDpi) + " and " + Str(kMaxDpi) + ", got " +
                         Str(*dpi));
  }
  if (max_tokens < 1) return Status::Error("PdfOptions::max_tokens must be positive");
  return Status::Ok();
}

Result<ImagePreprocessConfig> PageConfigForTokenBudget(const ImagePreprocessConfig& config, int64_t pages_per_request,
                                                       int64_t max_tokens) {
  if (pages_per_request < 1 || max_tokens < 1) return Status::Error("PdfOptions::max_tokens must be positive");
  // max_pixels counts T·h·w with T = temporal_patch_size for a still image; one token is factor² pixels.
  const int64_t pixels_per_token = int64_t{config.factor()} * config.factor() * config.temporal_patch_size;
  const int64_t share = max_tokens / pages_per_request;
  if (share * pixels_per_token >= config.max_pixels) return config;
  const int64_t min_tokens = (config.min_pixels + pixels_per_token - 1) / pixels_per_token;
  if (share < min_tokens) {
    return Status::Error(Str(pages_per_request) + " pages in one request need at least " + Str(min_tokens) +
                         " visual tokens each (" + Str(min_tokens * pages_per_request) +
                         " in all), more than PdfOptions::max_tokens " + Str(max_tokens) +
                         ": choose fewer PdfOptions::pages, use PdfOptions::per_page, or raise PdfOptions::max_tokens");
  }
  ImagePreprocessConfig page = config;
  page.max_pixels = share * pixels_per_token;
  return page;
}

Result<std::vector<int>> ParsePageRanges(const std::string& spec, int page_count, int64_t max_pages) {
  const auto too_many = [&](long long n) {
    return Status::Error(Str(n) + " pages selected, more than PdfOptions::max_pages " + Str(max_pages));
  };
  std::vector<int> pages;
  if (Trim(spec).empty()) {
    if (page_count > max_pages) {
      return Status::Error("the PDF has " + Str(page_count) + " pages, more than PdfOptions::max_pages " +
                           Str(max_pages) + ": choose some with PdfOptions::pages (e.g. PdfOptions::pages 1-" +
                           Str(max_pages) + ") or raise PdfOptions::max_pages");
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
      return Status::Error("PdfOptions::pages: '" + std::string(item) + "' is not a page number or a range like 2-5 or 7-");
    }
    if (first == 0 || last == 0) return Status::Error("PdfOptions::pages: pages are numbered from 1");
    if (last < first) {
      return Status::Error("PdfOptions::pages: the range " + Str(first) + "-" + Str(last) + " goes backwards");
    }
    if (last > page_count) {
      return Status::Error("PdfOptions::pages: page " + Str(last) + " is past the end (the PDF has " + Str(page_count) +
                           (page_count == 1 ? " page)" : " pages)"));
    }
    if (static_cast<long long>(pages.size()) + (last - first + 1) > max_pages) {
      return too_many(static_cast<long long>(pages.size()) + (last - first + 1));
    }
    for (long long p = first; p <= last; ++p) {
      if (!seen.insert(static_cast<int>(p)).second) {
        return Status::Error("PdfOptions::pages: page " + Str(p) + " is listed twice");
      }
      pages.push_back(static_cast<int>(p));
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return pages;
}

Result<LoadedPdf> LoadPdfFile(const std::string& path, const PdfOptions& options, const ImagePreprocessConfig& config,
                              const InputLimits& limits, const PdfLoadProgress& progress) {
  GLMV_RETURN_IF_ERROR(options.Validate());
  if (path.empty()) return Status::Error("LoadPdfFile: no path given");
  auto doc = PdfDocument::OpenFile(path, options.password, limits.ForPdf(static_cast<int>(options.max_pages)));
  if (!doc.ok()) return WithPasswordHint(doc.status(), options);
  return LoadPages(*doc, path, options, config, limits, progress);
}

Result<LoadedPdf> LoadPdfBytes(std::span<const uint8_t> bytes, const std::string& name, const PdfOptions& options,
                               const ImagePreprocessConfig& config, const InputLimits& limits,
                               const PdfLoadProgress& progress) {
  GLMV_RETURN_IF_ERROR(options.Validate());
  auto doc =
      PdfDocument::OpenBytes(bytes, name, options.password, limits.ForPdf(static_cast<int>(options.max_pages)));
  if (!doc.ok()) return WithPasswordHint(doc.status(), options);
  return LoadPages(*doc, name, options, config, limits, progress);
}

std::vector<std::pair<size_t, size_t>> PdfRequestRanges(const LoadedPdf& pdf) {
  const size_t n = pdf.page_numbers.size();
  if (!pdf.per_page) return {{0, n}};
  std::vector<std::pair<size_t, size_t>> ranges;
  for (size_t i = 0; i < n; ++i) ranges.emplace_back(i, i + 1);
  return ranges;
}

Result<std::vector<LoadedImage>> PreprocessPdfPages(LoadedPdf& pdf, size_t first, size_t last) {
  if (first > last || last > pdf.page_numbers.size() || pdf.pages.size() != pdf.page_numbers.size()) {
    return Status::Error(pdf.name + ": no pages [" + std::to_string(first) + ", " + std::to_string(last) +
                         ") to send");
  }
  std::vector<LoadedImage> out;
  for (size_t i = first; i < last; ++i) {
    const std::string number = Str(pdf.page_numbers[i]);
    const std::string label = pdf.name + " page " + number;
    RgbImage& image = pdf.pages[i].image;
    if (image.pixels.empty()) return Status::Error(label + ": already sent (each page image moves into one request)");
    auto pre = PreprocessImage(image, pdf.page_config);
    if (!pre.ok()) return pre.status().Annotate(label);
    out.push_back({pdf.name + "#page=" + number, std::move(image), std::move(pre).value()});
    image = RgbImage();
  }
  return out;
}

}  // namespace glmv
