#include "apps/input_limits.h"

#include <fmt/core.h>

#include <algorithm>
#include <utility>

namespace glmv::app {
namespace {

constexpr uint64_t kDefaultImagePixels = DecodeLimits{}.max_pixels;     // 100 M
constexpr uint64_t kDefaultFramePixels = VideoLimits{}.max_frame_pixels;  // 36 M

// Pixels allowed for one picture: the --max-image-pixels value (or `fallback`), lowered to what
// --max-decoded-bytes admits at 3 bytes a pixel. `binding` says which flag that was.
uint64_t PicturePixels(const InputLimits& l, uint64_t fallback, std::string* binding) {
  const uint64_t pixels = l.max_image_pixels > 0 ? l.max_image_pixels : fallback;
  const uint64_t by_bytes = l.max_decoded_bytes / 3;
  if (binding != nullptr) *binding = by_bytes < pixels ? "--max-decoded-bytes" : "--max-image-pixels";
  return std::min(pixels, by_bytes);
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

DecodeLimits InputLimits::ForImage() const {
  DecodeLimits d;
  d.max_pixels = PicturePixels(*this, kDefaultImagePixels, nullptr);
  d.max_bytes = max_file_bytes;
  d.max_seconds = decode_seconds;
  return d;
}

VideoLimits InputLimits::ForVideo() const {
  VideoLimits v;
  v.max_frame_pixels = PicturePixels(*this, kDefaultFramePixels, nullptr);
  v.max_frames = max_decoded_frames;
  v.max_seconds = decode_seconds;
  return v;
}

PdfLimits InputLimits::ForPdf(int max_pages) const {
  PdfLimits p;
  p.max_bytes = max_file_bytes;
  p.max_pages = max_pages;
  p.max_pixels_per_page = PicturePixels(*this, kDefaultImagePixels, nullptr);
  p.max_library_bytes = std::max<uint64_t>(max_decoded_bytes / 2, uint64_t{64} << 20);  // MuPDF needs some room
  // One limit per file, as for the other formats: a page may use what the document has left.
  p.max_total_seconds = decode_seconds;
  p.max_page_seconds = decode_seconds;
  return p;
}

Status InputLimits::Explain(const Status& status) const {
  if (status.ok()) return status;
  std::string image_flag, frame_flag;
  PicturePixels(*this, kDefaultImagePixels, &image_flag);
  PicturePixels(*this, kDefaultFramePixels, &frame_flag);
  const std::pair<const char*, std::string> names[] = {
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
  std::string message = status.message();
  for (const auto& [field, flag] : names) {
    const size_t at = message.find(field);
    if (at != std::string::npos) message.replace(at, std::string(field).size(), "raise it with " + flag);
  }
  return Status::Error(message);
}

}  // namespace glmv::app
