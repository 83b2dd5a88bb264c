#include "apps/input_limits.h"

#include <fmt/core.h>

#include <string>
#include <utility>

namespace glmv::app {
namespace {

constexpr uint64_t kDefaultImagePixels = DecodeLimits{}.max_pixels;     // 100 M
constexpr uint64_t kDefaultFramePixels = VideoLimits{}.max_frame_pixels;  // 36 M

// Which flag sets the pixel limit of a picture whose decoder default is `fallback`.
std::string PixelFlag(const InputLimits& l, uint64_t fallback) {
  return l.PicturePixelsBoundByBytes(fallback) ? "--max-decoded-bytes" : "--max-image-pixels";
}

// Every occurrence of `field` in `message` replaced by `text`.
void ReplaceAll(std::string& message, const std::string& field, const std::string& text) {
  for (size_t at = message.find(field); at != std::string::npos; at = message.find(field, at + text.size())) {
    message.replace(at, field.size(), text);
  }
}

}  // namespace

std::vector<OptionSpec> InputLimitOptionSpecs() {
  const InputLimits d;
  return {
      {"--max-image-pixels", "", true,
       fmt::format("N  refuse a decoded picture (image, video frame, PDF page) of more than N pixels, checked before "
                   "it is allocated (default {} for images and pages, {} for video frames)",
                   kDefaultImagePixels, kDefaultFramePixels)},
      {"--max-decoded-frames", "", true,
       fmt::format("N  refuse a video that declares or makes the decoder go through more than N frames (default {})",
                   d.max_decoded_frames)},
      {"--max-decoded-bytes", "", true,
       fmt::format("N  RGB bytes one file may decode to at once: an image, all rendered pages of a PDF, one video "
                   "frame; MuPDF's heap gets half (default {})",
                   d.max_decoded_bytes)},
      {"--max-file-bytes", "", true,
       fmt::format("N  refuse image and PDF files larger than N bytes (they are read whole; videos are streamed) "
                   "(default {})",
                   d.max_file_bytes)},
      {"--decode-time-limit", "", true,
       fmt::format("SEC  give up decoding one file (an image, a PDF's pages, a video) after SEC seconds (default {:g})",
                   d.decode_seconds)},
  };
}

Result<InputLimits> InputLimitsFromArgs(const Args& args) {
  InputLimits l;
  // An integer flag of at least `min`, else `fallback`.
  const auto at_least = [&](const char* name, long long fallback, long long min, const char* what) -> Result<long long> {
    GLMV_ASSIGN_OR_RETURN(const long long v, args.GetInt(name, fallback));
    if (args.Has(name) && v < min) return Status::Error(std::string(name) + " must be " + what);
    return v;
  };
  GLMV_ASSIGN_OR_RETURN(const long long pixels, at_least("--max-image-pixels", 0, 1, "positive"));
  GLMV_ASSIGN_OR_RETURN(l.max_decoded_frames, at_least("--max-decoded-frames", l.max_decoded_frames, 1, "positive"));
  GLMV_ASSIGN_OR_RETURN(const long long decoded, at_least("--max-decoded-bytes", static_cast<long long>(l.max_decoded_bytes),
                                                          3, "at least 3 (one RGB pixel)"));
  GLMV_ASSIGN_OR_RETURN(const long long file,
                        at_least("--max-file-bytes", static_cast<long long>(l.max_file_bytes), 1, "positive"));
  l.max_image_pixels = static_cast<uint64_t>(pixels);
  l.max_decoded_bytes = static_cast<uint64_t>(decoded);
  l.max_file_bytes = static_cast<uint64_t>(file);
  GLMV_ASSIGN_OR_RETURN(l.decode_seconds, args.GetDouble("--decode-time-limit", l.decode_seconds));
  if (!(l.decode_seconds > 0)) return Status::Error("--decode-time-limit must be positive");
  return l;
}

Status Explain(const InputLimits& limits, const Status& status) {
  if (status.ok()) return status;
  const std::string image_flag = PixelFlag(limits, kDefaultImagePixels);
  const std::string frame_flag = PixelFlag(limits, kDefaultFramePixels);
  // The decoders' limits: "(DecodeLimits::max_pixels)" → "(raise it with --max-image-pixels)".
  const std::pair<const char*, std::string> limit_flags[] = {
      {"DecodeLimits::max_pixels", image_flag},
      {"DecodeLimits::max_bytes", "--max-file-bytes"},
      {"DecodeLimits::max_seconds", "--decode-time-limit"},
      {"VideoLimits::max_frame_pixels", frame_flag},
      {"VideoLimits::max_frames", "--max-decoded-frames"},
      {"VideoLimits::max_seconds", "--decode-time-limit"},
      {"PdfLimits::max_bytes", "--max-file-bytes"},
      {"PdfLimits::max_pages", "--max-pages"},
      {"PdfLimits::max_pixels_per_page", image_flag},
      {"PdfLimits::max_library_bytes", "--max-decoded-bytes"},
      {"PdfLimits::max_total_seconds", "--decode-time-limit"},
      {"PdfLimits::max_page_seconds", "--decode-time-limit"},
  };
  // lib/media's settings, named where the message already says what to do with them.
  const std::pair<const char*, const char*> setting_flags[] = {
      {"InputLimits::max_decoded_bytes", "--max-decoded-bytes"},
      {"PdfOptions::pages", "--pages"},
      {"PdfOptions::dpi", "--dpi"},
      {"PdfOptions::password", "--password"},
      {"PdfOptions::per_page", "--per-page"},
      {"PdfOptions::max_pages", "--max-pages"},
      {"PdfOptions::max_tokens", "--pdf-max-tokens"},
      {"VideoLoadOptions::max_frames", "--max-frames"},
      {"VideoLoadOptions::fps", "--fps"},
      {"VideoLoadOptions::start_seconds", "--start"},
      {"VideoLoadOptions::end_seconds", "--end"},
  };
  std::string message = status.message();
  for (const auto& [field, flag] : limit_flags) ReplaceAll(message, field, "raise it with " + flag);
  for (const auto& [field, flag] : setting_flags) ReplaceAll(message, field, flag);
  return Status::Error(message);
}

Status Explain(const InputLimits& limits, const Status& status, std::span<const Wording> overrides) {
  if (status.ok()) return status;
  std::string message = status.message();
  for (const auto& [field, text] : overrides) ReplaceAll(message, std::string(field), std::string(text));
  return Explain(limits, Status::Error(message));
}

}  // namespace glmv::app
